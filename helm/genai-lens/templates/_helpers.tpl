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
Fills the dict `.out` with the exporter's settings the config file holds whatever the process:
exporter.config with exporter.budgets as `budgets` and exporter.labelValueLimits as
`label_value_limits`. Called as `include "genai-lens.baseConfigInto" (dict "ctx" $ "out" $config)`.
*/}}
{{- define "genai-lens.baseConfigInto" -}}
{{- $root := .ctx }}
{{- $config := .out }}
{{- range $k, $v := deepCopy ($root.Values.exporter.config | default dict) }}
{{- $_ := set $config $k $v }}
{{- end }}
{{- with $root.Values.exporter.budgets }}
{{- $_ := set $config "budgets" . }}
{{- end }}
{{- with $root.Values.exporter.labelValueLimits }}
{{- $_ := set $config "label_value_limits" . }}
{{- end }}
{{- end }}

{{/*
Fills the dict `.out` with the `billing.openai` settings shared by every process: the windows and
the mapping, so the measured and the provider side serve the same rows.
*/}}
{{- define "genai-lens.billingSharedInto" -}}
{{- $b := .ctx.Values.billing.openai }}
{{- $_ := set .out "days" (int $b.days) }}
{{- $_ := set .out "projects" (deepCopy ($b.projects | default dict)) }}
{{- $_ := set .out "keys" (deepCopy ($b.keys | default dict)) }}
{{- end }}

{{/*
The exporter's YAML config file: the settings above, plus, with billing.openai.enabled,
`billing.openai` with `poll: false` (every replica serves its measured figures; only the
`-billing` pod polls, so the replicas need no admin key). Empty when there is nothing to write (no
file, no --config).
*/}}
{{- define "genai-lens.exporterConfig" -}}
{{- $config := dict }}
{{- $_ := include "genai-lens.baseConfigInto" (dict "ctx" . "out" $config) }}
{{- if .Values.billing.openai.enabled }}
{{- $openai := dict "poll" false }}
{{- $_ := include "genai-lens.billingSharedInto" (dict "ctx" . "out" $openai) }}
{{- $_ := set $config "billing" (dict "openai" $openai) }}
{{- end }}
{{- if $config }}
{{- toYaml $config }}
{{- end }}
{{- end }}

{{/*
Where the billing pod finds the admin key: the Secret's key, projected next to config.yaml.
*/}}
{{- define "genai-lens.billingAdminKeyFile" -}}
/etc/genai-lens/openai-admin-key
{{- end }}

{{/*
The billing pod's YAML config file: the base config plus `billing.openai` with `poll: true`, the
API settings and `admin_key_file`.
*/}}
{{- define "genai-lens.billingConfig" -}}
{{- $b := .Values.billing.openai }}
{{- $config := dict }}
{{- $_ := include "genai-lens.baseConfigInto" (dict "ctx" . "out" $config) }}
{{- $openai := dict "poll" true }}
{{- $_ := include "genai-lens.billingSharedInto" (dict "ctx" . "out" $openai) }}
{{- $_ := set $openai "admin_key_file" (include "genai-lens.billingAdminKeyFile" .) }}
{{- $_ := set $openai "base_url" $b.baseUrl }}
{{- $_ := set $openai "interval_seconds" $b.intervalSeconds }}
{{- $_ := set $openai "timeout_seconds" $b.timeoutSeconds }}
{{- $_ := set $config "billing" (dict "openai" $openai) }}
{{- toYaml $config }}
{{- end }}

{{/*
Name of the billing Deployment, ConfigMap and Service: <fullname>-billing, within 63 characters.
*/}}
{{- define "genai-lens.billingFullname" -}}
{{- printf "%s-billing" (include "genai-lens.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
Selector labels of the billing pod. Its app.kubernetes.io/name is `<name>-billing`, so the
exporter's selectors (name + instance: the Deployment's, the Service's, the PDB's, the spread
constraints') never match it, and the component is `billing`.
*/}}
{{- define "genai-lens.billingSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-billing" (include "genai-lens.name" . | trunc 55 | trimSuffix "-") }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: billing
{{- end }}

{{/*
Labels of the billing objects (Deployment, ConfigMap, Service): the common labels with
app.kubernetes.io/component `billing`. They keep app.kubernetes.io/name `<name>`: the
ServiceMonitor selects the billing Service by it and its jobLabel makes the job `<name>` as for
the exporter (the job the ExporterDown alert watches).
*/}}
{{- define "genai-lens.billingLabels" -}}
{{- $labels := include "genai-lens.labels" . | fromYaml }}
{{- $_ := set $labels "app.kubernetes.io/component" "billing" }}
{{- toYaml $labels }}
{{- end }}

{{/*
Labels of the billing pod: the billing labels with its selector labels over them.
*/}}
{{- define "genai-lens.billingPodLabels" -}}
{{- $labels := include "genai-lens.billingLabels" . | fromYaml }}
{{- $labels = merge (include "genai-lens.billingSelectorLabels" . | fromYaml) $labels }}
{{- toYaml $labels }}
{{- end }}

{{/*
Refuse value combinations that would break at run time.
*/}}
{{- define "genai-lens.validate" -}}
{{- $config := .Values.exporter.config | default dict }}
{{- if .Values.billing.openai.enabled }}
{{- if not .Values.billing.openai.adminKeySecret.name }}
{{- $ns := include "genai-lens.namespace" . }}
{{- $key := .Values.billing.openai.adminKeySecret.key }}
{{- fail (printf "billing.openai.enabled needs billing.openai.adminKeySecret.name: an existing Secret in namespace %s holding the OpenAI admin key under the key %q (billing.openai.adminKeySecret.key), e.g. kubectl -n %s create secret generic openai-admin --from-file=%s=./openai-admin-key" $ns $key $ns $key) }}
{{- end }}
{{- if hasKey $config "billing" }}
{{- fail "billing.openai.enabled and exporter.config.billing are both set; configure the reconciliation in billing.openai only" }}
{{- end }}
{{- if eq (get (include "genai-lens.billingSelectorLabels" . | fromYaml) "app.kubernetes.io/name") (include "genai-lens.name" .) }}
{{- fail "billing.openai: the billing pods' app.kubernetes.io/name equals the exporter's; choose another nameOverride" }}
{{- end }}
{{- end }}
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
