# The "operator": a Deployment helm --wait waits for (Ready on the simulated nodes).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Values.fullnameOverride }}-operator
  labels:
    app.kubernetes.io/name: {{ .Values.fullnameOverride }}-operator
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: 1
  progressDeadlineSeconds: 600
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Values.fullnameOverride }}-operator
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Values.fullnameOverride }}-operator
        {{- range $k, $v := .Values.testPodLabels }}
        {{ $k }}: {{ $v | quote }}
        {{- end }}
      annotations:
        opsdeck.test/values-sha: {{ toJson .Values | sha256sum | quote }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65534
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: operator
          image: 127.0.0.1:5000/opsdeck/stand-in-operator:1.0.0
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {memory: 32Mi}
