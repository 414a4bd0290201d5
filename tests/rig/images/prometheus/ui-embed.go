// SPDX-License-Identifier: GPL-3.0-or-later

//go:build builtinassets

// The file that upstream's web/ui/build_ui.sh generates from embed.go.tmpl (it embeds the npm
// build of the UI); here it embeds static/, which prebuild.sh fills with ui-not-built.html.
package ui

import "embed"

//go:embed static
var EmbedFS embed.FS
