{{/* The release's full name, cut to what a Kubernetes name may hold. */}}
{{- define "hysope.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hysope.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component (gateway or worker). */}}
{{- define "hysope.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hysope.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The environment gateways and workers share: connections from the Secret,
     settings from the ConfigMap. */}}
{{- define "hysope.env" -}}
- name: HYSOPE_STORE
  valueFrom:
    secretKeyRef: {name: {{ .Values.secret.name }}, key: {{ .Values.secret.keys.store }}}
- name: HYSOPE_QUEUE
  valueFrom:
    secretKeyRef: {name: {{ .Values.secret.name }}, key: {{ .Values.secret.keys.queue }}}
- name: HYSOPE_CATALOG
  valueFrom:
    secretKeyRef: {name: {{ .Values.secret.name }}, key: {{ .Values.secret.keys.catalog }}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ .Values.secret.name }}, key: {{ .Values.secret.keys.awsAccessKeyId }}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.secret.name }}, key: {{ .Values.secret.keys.awsSecretAccessKey }}}
{{- end -}}

{{/* The data folder and /tmp: scratch only (ephemeral), the image's root file
     system stays read-only. */}}
{{- define "hysope.scratchVolumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "hysope.scratchMounts" -}}
- name: data
  mountPath: /var/lib/hysope
- name: tmp
  mountPath: /tmp
{{- end -}}
