# What the real chart turns into its Prometheus and Alertmanager objects: the settings the tests
# check arrived from the inventory through the generated values.
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Values.fullnameOverride }}-prometheus-spec
data:
  prometheus.json: {{ toJson .Values.prometheus.prometheusSpec | quote }}
  alertmanager.json: {{ toJson .Values.alertmanager.alertmanagerSpec | quote }}
