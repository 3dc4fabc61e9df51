{{/* Labels and names shared by every object; they match `clew install --export`. */}}
{{- define "clew.labels" -}}
app.kubernetes.io/name: clew
app.kubernetes.io/part-of: clew
{{- end }}

{{- define "clew.selector" -}}
app.kubernetes.io/name: clew
app.kubernetes.io/component: controller
{{- end }}

{{- define "clew.componentLabels" -}}
app.kubernetes.io/name: clew
app.kubernetes.io/part-of: clew
app.kubernetes.io/component: controller
{{- end }}

{{- define "clew.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "clew.createsWebhookSecret" -}}
{{- if or .Values.webhook.github .Values.webhook.gitlab .Values.webhook.generic }}true{{ end }}
{{- end }}
