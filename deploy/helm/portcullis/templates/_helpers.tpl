{{/* Chart name. */}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name. */}}
{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Common labels. */}}
{{- define "portcullis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels. */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* ServiceAccount name. */}}
{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Name of the serving-certificate Secret. */}}
{{- define "portcullis.tlsSecret" -}}
{{- printf "%s-tls" (include "portcullis.fullname" .) -}}
{{- end -}}

{{/* The Service's in-cluster DNS name (the serving certificate's SAN). */}}
{{- define "portcullis.serviceHost" -}}
{{- printf "%s.%s.svc" (include "portcullis.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* Namespaces never sent to the webhooks: kube-system, the release namespace, and the configured ones. */}}
{{- define "portcullis.excludedNamespaces" -}}
{{- $ns := list "kube-system" .Release.Namespace -}}
{{- range .Values.admission.excludedNamespaces }}{{ $ns = append $ns . }}{{ end -}}
{{- toJson (uniq $ns) -}}
{{- end -}}

{{/* A webhook's common fields. Argument: dict "ctx" $ "path" "/validate" "caBundle" <base64 or ""> */}}
{{- define "portcullis.webhookCommon" -}}
{{- $ctx := .ctx -}}
admissionReviewVersions: [v1, v1beta1]
sideEffects: NoneOnDryRun
failurePolicy: {{ $ctx.Values.admission.failurePolicy }}
timeoutSeconds: {{ $ctx.Values.admission.timeoutSeconds }}
matchPolicy: Equivalent
clientConfig:
  service:
    name: {{ include "portcullis.fullname" $ctx }}
    namespace: {{ $ctx.Release.Namespace }}
    path: {{ .path }}
    port: {{ $ctx.Values.service.port }}
  {{- if .caBundle }}
  caBundle: {{ .caBundle }}
  {{- end }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "portcullis.excludedNamespaces" $ctx }}
    {{- with $ctx.Values.admission.namespaceSelectorExpressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- with $ctx.Values.admission.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
rules:
{{- range $ctx.Values.admission.rules }}
  - operations: [CREATE, UPDATE]
    apiGroups: {{ toJson .apiGroups }}
    apiVersions: {{ toJson .apiVersions }}
    resources: {{ toJson .resources }}
    scope: Namespaced
{{- end }}
{{- end -}}

{{/* Name of the Secret holding the store DSN (external DSN, or the chart-deployed PostgreSQL's). */}}
{{- define "portcullis.postgresqlSecret" -}}
{{- .Values.storage.postgresql.existingSecret | default (printf "%s-postgresql" (include "portcullis.fullname" .)) -}}
{{- end -}}

{{/* Name of the Secret holding the API admin token. */}}
{{- define "portcullis.adminTokenSecret" -}}
{{- .Values.adminToken.existingSecret | default (printf "%s-admin-token" (include "portcullis.fullname" .)) -}}
{{- end -}}

{{/* Selector labels of the chart-deployed PostgreSQL (a different name, so Portcullis's selectors never match it). */}}
{{- define "portcullis.postgresqlSelectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}-postgresql
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
A memory quantity (768Mi, 1Gi, 800M, 805306368) in whole MiB, rounded down; fails on anything else.
*/}}
{{- define "portcullis.mib" -}}
{{- $q := toString .q -}}
{{- if not (regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$" $q) -}}
{{- fail (printf "%s=%q: give a whole-number memory quantity such as 768Mi or 1Gi" .what $q) -}}
{{- end -}}
{{- $n := regexFind "^[0-9]+" $q | int64 -}}
{{- $unit := trimPrefix (toString $n) $q -}}
{{- $bytes := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- div (mul $n (get $bytes $unit)) 1048576 -}}
{{- end -}}
