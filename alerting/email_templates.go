package alerting

import (
	htmltemplate "html/template"
	texttemplate "text/template"
)

// The mails to status page subscribers, in text and HTML: the same words,
// no images, no tracking, every link visible.
var mailText = texttemplate.Must(texttemplate.New("text").Parse(`{{if .Confirm -}}
Someone, hopefully you, asked to get {{.Site}}'s incident and maintenance updates for {{.Scope}} by email.

To confirm, open this link within {{.ConfirmFor}}:
{{.Confirm}}

If it was not you, ignore this mail: nothing more will be sent to this address, and it will be forgotten.
{{- else if .Window -}}
{{.Status}}: {{.Title}}

{{.Window}} · {{.Covers}}

Status page: {{.StatusURL}}
{{- else if .Title -}}
{{.Status}}: {{.Title}}
{{if eq (len .Updates) 1}}
{{(index .Updates 0).Value}}
{{else}}{{range .Updates}}
{{.Name}}: {{.Value}}
{{end}}{{end}}{{if .Summary}}
{{.Summary}}
{{end}}{{if .Affected}}
Affected links:{{range .Affected}}
- {{.}}{{end}}
{{end}}{{if .Postmortem}}
Postmortem{{range .Postmortem}}{{if .Value}}
{{.Name}}: {{.Value}}{{end}}{{end}}
{{end}}
Status page: {{.StatusURL}}
{{- else -}}
This address is subscribed to {{.Site}}'s incident and maintenance updates for {{.Scope}}.

To change what you get, or to leave:
{{.Manage}}
{{- end}}
{{if .Unsubscribe}}
--
You get this mail because you subscribed to {{.Site}}'s updates for {{.Scope}}.
Manage your subscription: {{.Manage}}
Unsubscribe: {{.Unsubscribe}}
{{end}}`))

var mailHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a;max-width:40em">
{{if .Confirm -}}
<p>Someone, hopefully you, asked to get {{.Site}}'s incident and maintenance updates for {{.Scope}} by email.</p>
<p><a href="{{.Confirm}}">Confirm your subscription</a> (within {{.ConfirmFor}}).</p>
<p>If it was not you, ignore this mail: nothing more will be sent to this address, and it will be forgotten.</p>
{{- else if .Window -}}
<h1 style="font-size:1.25em">{{.Status}}: {{.Title}}</h1>
<p>{{.Window}} · {{.Covers}}</p>
<p><a href="{{.StatusURL}}">Status page</a></p>
{{- else if .Title -}}
<h1 style="font-size:1.25em">{{.Status}}: {{.Title}}</h1>
{{if eq (len .Updates) 1}}<p>{{(index .Updates 0).Value}}</p>{{else}}{{range .Updates}}<p><strong>{{.Name}}:</strong> {{.Value}}</p>{{end}}{{end}}
{{if .Summary}}<p>{{.Summary}}</p>{{end}}
{{if .Affected}}<p>Affected links:</p><ul>{{range .Affected}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Postmortem}}<h2 style="font-size:1.1em">Postmortem</h2><dl>{{range .Postmortem}}{{if .Value}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}{{end}}</dl>{{end}}
<p><a href="{{.StatusURL}}">Status page</a></p>
{{- else -}}
<p>This address is subscribed to {{.Site}}'s incident and maintenance updates for {{.Scope}}.</p>
<p><a href="{{.Manage}}">Change what you get, or leave</a></p>
{{- end}}
{{if .Unsubscribe}}<hr>
<p style="font-size:.9em">You get this mail because you subscribed to {{.Site}}'s updates for {{.Scope}}.
<a href="{{.Manage}}">Manage your subscription</a> · <a href="{{.Unsubscribe}}">Unsubscribe</a></p>{{end}}
</body></html>
`))
