{{/*
Chart name, truncated to the 63 characters a DNS label allows.
*/}}
{{- define "genai-lens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release name + chart name, unless the release name already holds the chart name.
*/}}
{{- define "genai-lens.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart label value: name-version.
*/}}
{{- define "genai-lens.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Namespace of every object.
*/}}
{{- define "genai-lens.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/*
Selector labels: stable across upgrades.
*/}}
{{- define "genai-lens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "genai-lens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels on every object.
*/}}
{{- define "genai-lens.labels" -}}
helm.sh/chart: {{ include "genai-lens.chart" . }}
{{ include "genai-lens.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: genai-lens
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "genai-lens.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "genai-lens.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image: registry/repository, then @digest or :tag (tag defaults to appVersion).
*/}}
{{- define "genai-lens.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the tokens ("" when there is none).
*/}}
{{- define "genai-lens.secretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else if or .Values.auth.ingestToken .Values.auth.scrapeToken }}
{{- include "genai-lens.fullname" . }}
{{- end }}
{{- end }}

{{/*
"true" when the pods get an ingest token from the Secret.
*/}}
{{- define "genai-lens.hasIngestToken" -}}
{{- if .Values.auth.existingSecret }}
{{- if .Values.auth.existingSecretHasIngestToken }}true{{ end }}
{{- else if .Values.auth.ingestToken }}true{{ end }}
{{- end }}

{{/*
"true" when the pods get a scrape token from the Secret.
*/}}
{{- define "genai-lens.hasScrapeToken" -}}
{{- if .Values.auth.existingSecret }}
{{- if .Values.auth.existingSecretHasScrapeToken }}true{{ end }}
{{- else if .Values.auth.scrapeToken }}true{{ end }}
{{- end }}

{{/*
Path of the state snapshot file inside the pod.
*/}}
{{- define "genai-lens.stateFile" -}}
{{- printf "%s/state.json" (trimSuffix "/" .Values.persistence.mountPath) }}
{{- end }}

{{/*
Name of the PersistentVolumeClaim holding the state file.
*/}}
{{- define "genai-lens.claimName" -}}
{{- default (printf "%s-state" (include "genai-lens.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/*
The exporter's YAML config file: exporter.config with exporter.budgets as `budgets` and
exporter.labelValueLimits as `label_value_limits`. Empty when there is nothing to write (no file,
no --config).
*/}}
{{- define "genai-lens.exporterConfig" -}}
{{- $config := deepCopy (.Values.exporter.config | default dict) }}
{{- with .Values.exporter.budgets }}
{{- $_ := set $config "budgets" . }}
{{- end }}
{{- with .Values.exporter.labelValueLimits }}
{{- $_ := set $config "label_value_limits" . }}
{{- end }}
{{- if $config }}
{{- toYaml $config }}
{{- end }}
{{- end }}

{{/*
Refuse value combinations that would break at run time.
*/}}
{{- define "genai-lens.validate" -}}
{{- $config := .Values.exporter.config | default dict }}
{{- if and .Values.exporter.budgets (hasKey $config "budgets") }}
{{- fail "exporter.budgets and exporter.config.budgets are both set; declare budgets in exporter.budgets only" }}
{{- end }}
{{- if and .Values.exporter.labelValueLimits (hasKey $config "label_value_limits") }}
{{- fail "exporter.labelValueLimits and exporter.config.label_value_limits are both set; declare the limits in exporter.labelValueLimits only" }}
{{- end }}
{{- $names := dict }}
{{- range .Values.exporter.budgets }}
{{- if hasKey $names .name }}
{{- fail (printf "exporter.budgets: the name %q is used by two budgets" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- end }}
{{- if .Values.alertmanagerConfig.enabled }}
{{- $page := .Values.alertmanagerConfig.receivers.page }}
{{- $ticket := .Values.alertmanagerConfig.receivers.ticket }}
{{- if not (or $page.webhookUrl $page.webhookConfigs $ticket.webhookUrl $ticket.webhookConfigs) }}
{{- fail "alertmanagerConfig.enabled needs a receiver: set alertmanagerConfig.receivers.page.webhookUrl and/or alertmanagerConfig.receivers.ticket.webhookUrl (or their webhookConfigs)" }}
{{- end }}
{{- end }}
{{- if and .Values.persistence.enabled (eq .Values.persistence.type "pvc") }}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}
{{- fail "persistence.type=pvc keeps one state file and needs replicaCount: 1 and autoscaling.enabled: false; use persistence.type=emptyDir with several replicas" }}
{{- end }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "autoscaling.maxReplicas must be >= autoscaling.minReplicas" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.targetCPUUtilizationPercentage) (not .Values.autoscaling.targetMemoryUtilizationPercentage) }}
{{- fail "autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage" }}
{{- end }}
{{- end }}
