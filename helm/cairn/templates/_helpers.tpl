{{/*
_helpers.tpl — names, labels, the backends a mode uses and their addresses,
and the pod template every Cairn pod shares (standalone and each role).

Names: <fullname> is the release's full name (63 characters at most);
components are <fullname>-<component>, cut to 52 characters so that a
StatefulSet's controller-revision-hash label still fits in 63.
*/}}

{{- define "cairn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cairn.fullname" -}}
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

{{/* <fullname>-<component>; call with (list $ "component") */}}
{{- define "cairn.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "cairn.fullname" $root) (index . 1) | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "cairn.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cairn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cairn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cairn.labels" -}}
helm.sh/chart: {{ include "cairn.chart" . }}
{{ include "cairn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cairn
{{- end }}

{{/* Labels of one component; call with (list $ "component") */}}
{{- define "cairn.componentLabels" -}}
{{ include "cairn.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "cairn.componentSelectorLabels" -}}
{{ include "cairn.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "cairn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cairn.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cairn.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The roles of cluster mode, in start order. */}}
{{- define "cairn.roles" -}}
coordinator proxy datanode indexnode querynode
{{- end }}

{{/* ---- backends -------------------------------------------------------- */}}

{{- define "cairn.metaBackend" -}}
{{- if eq .Values.mode "cluster" }}etcd{{ else }}{{ .Values.standalone.metaBackend }}{{ end }}
{{- end }}

{{- define "cairn.mqBackend" -}}
{{- if eq .Values.mode "cluster" }}kafka{{ else }}{{ .Values.standalone.mqBackend }}{{ end }}
{{- end }}

{{- define "cairn.objstoreBackend" -}}
{{- if eq .Values.mode "cluster" }}s3{{ else }}{{ .Values.standalone.objstoreBackend }}{{ end }}
{{- end }}

{{/* "true" when the chart runs the service itself, else "" */}}
{{- define "cairn.etcd.bundled" -}}
{{- if and (eq (include "cairn.metaBackend" .) "etcd") .Values.etcd.bundled }}true{{ end }}
{{- end }}

{{- define "cairn.minio.bundled" -}}
{{- if and (eq (include "cairn.objstoreBackend" .) "s3") .Values.minio.bundled }}true{{ end }}
{{- end }}

{{- define "cairn.kafka.bundled" -}}
{{- if and (eq (include "cairn.mqBackend" .) "kafka") .Values.kafka.bundled }}true{{ end }}
{{- end }}

{{- define "cairn.svcDomain" -}}
{{- printf "%s.svc.%s" .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{- define "cairn.etcd.endpoints" -}}
{{- if .Values.etcd.bundled }}
{{- printf "http://%s.%s:2379" (include "cairn.componentName" (list . "etcd")) (include "cairn.svcDomain" .) }}
{{- else }}
{{- if not .Values.etcd.endpoints }}
{{- fail "etcd.endpoints: list the external etcd endpoints, or set etcd.bundled=true" }}
{{- end }}
{{- join "," .Values.etcd.endpoints }}
{{- end }}
{{- end }}

{{- define "cairn.minio.address" -}}
{{- if .Values.minio.bundled }}
{{- printf "%s.%s:9000" (include "cairn.componentName" (list . "minio")) (include "cairn.svcDomain" .) }}
{{- else }}
{{- required "minio.address: give the external S3 endpoint (host:port), or set minio.bundled=true" .Values.minio.address }}
{{- end }}
{{- end }}

{{- define "cairn.kafka.brokerList" -}}
{{- if .Values.kafka.bundled }}
{{- $kafka := include "cairn.componentName" (list . "kafka") }}
{{- printf "%s-0.%s-headless.%s:9092" $kafka $kafka (include "cairn.svcDomain" .) }}
{{- else }}
{{- required "kafka.brokerList: give the external Kafka bootstrap servers, or set kafka.bundled=true" .Values.kafka.brokerList }}
{{- end }}
{{- end }}

{{- define "cairn.minio.secretName" -}}
{{- default (include "cairn.componentName" (list . "minio")) .Values.minio.auth.existingSecret }}
{{- end }}

{{/* ---- the Cairn pod ---------------------------------------------------
Call with (dict "root" $ "component" "proxy" "values" .Values.proxy
"dataVolume" (dict ...volume source... | nil)); the values section supplies
resources, nodeSelector, tolerations, affinity, podAnnotations, extraEnv.
A nil dataVolume means the caller mounts a claim named "data". */}}
{{- define "cairn.podTemplate" -}}
{{- $root := .root }}
{{- $v := .values }}
{{- $cluster := eq $root.Values.mode "cluster" -}}
metadata:
  labels:
    {{- include "cairn.componentSelectorLabels" (list $root .component) | nindent 4 }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "cairn.serviceAccountName" $root }}
  automountServiceAccountToken: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
  {{- with $root.Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if and (eq (include "cairn.objstoreBackend" $root) "s3") $root.Values.minio.createBucket }}
  initContainers:
    # Creates the bucket when missing (Cairn never creates buckets); loops
    # until the S3 endpoint answers, so it also waits for a bundled MinIO.
    - name: create-bucket
      image: {{ printf "%s:%s" $root.Values.minio.image.repository $root.Values.minio.image.tag }}
      imagePullPolicy: {{ $root.Values.minio.image.pullPolicy }}
      command:
        - /bin/sh
        - -c
        - |
          until mc alias set cairn "$S3_URL" "$ACCESS_KEY" "$SECRET_KEY" >/dev/null; do
            echo "waiting for $S3_URL"; sleep 2
          done
          mc mb --ignore-existing "cairn/$BUCKET"
      env:
        - name: S3_URL
          value: {{ printf "%s://%s" (ternary "https" "http" $root.Values.minio.useSSL) (include "cairn.minio.address" $root) | quote }}
        - name: BUCKET
          value: {{ $root.Values.minio.bucketName | quote }}
        - name: MC_CONFIG_DIR
          value: /tmp/mc
        - name: ACCESS_KEY
          valueFrom:
            secretKeyRef:
              name: {{ include "cairn.minio.secretName" $root }}
              key: accessKeyID
        - name: SECRET_KEY
          valueFrom:
            secretKeyRef:
              name: {{ include "cairn.minio.secretName" $root }}
              key: secretAccessKey
      {{- with $root.Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  {{- end }}
  containers:
    - name: cairn
      image: {{ include "cairn.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: [{{ .component | quote }}, "--config", "/etc/cairn/cairn.yaml"]
      ports:
        - name: grpc
          containerPort: 19530
          protocol: TCP
        - name: http
          containerPort: 9091
          protocol: TCP
      env:
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        {{- if $cluster }}
        - name: CAIRN_NODE_ADVERTISEADDRESS
          value: "$(POD_IP):19530"
        {{- end }}
        {{- if eq (include "cairn.objstoreBackend" $root) "s3" }}
        - name: CAIRN_MINIO_ACCESSKEYID
          valueFrom:
            secretKeyRef:
              name: {{ include "cairn.minio.secretName" $root }}
              key: accessKeyID
        - name: CAIRN_MINIO_SECRETACCESSKEY
          valueFrom:
            secretKeyRef:
              name: {{ include "cairn.minio.secretName" $root }}
              key: secretAccessKey
        {{- end }}
        {{- with $root.Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $root.Values.probes }}
      {{- if .startup.enabled }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .startup.periodSeconds }}
        timeoutSeconds: {{ .startup.timeoutSeconds }}
        failureThreshold: {{ .startup.failureThreshold }}
      {{- end }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .liveness.periodSeconds }}
        timeoutSeconds: {{ .liveness.timeoutSeconds }}
        failureThreshold: {{ .liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .readiness.periodSeconds }}
        timeoutSeconds: {{ .readiness.timeoutSeconds }}
        failureThreshold: {{ .readiness.failureThreshold }}
      {{- end }}
      {{- with $v.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/cairn
          readOnly: true
        - name: data
          mountPath: /var/lib/cairn
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "cairn.fullname" $root }}
    - name: tmp
      emptyDir: {}
    {{- with .dataVolume }}
    - name: data
      {{- toYaml . | nindent 6 }}
    {{- end }}
  {{- with (default $root.Values.nodeSelector $v.nodeSelector) }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (default $root.Values.tolerations $v.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (default $root.Values.affinity $v.affinity) }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* A PVC template or claim spec: call with the persistence values. */}}
{{- define "cairn.pvcSpec" -}}
accessModes:
  {{- toYaml (default (list "ReadWriteOnce") .accessModes) | nindent 2 }}
{{- if .storageClass }}
{{- if eq "-" .storageClass }}
storageClassName: ""
{{- else }}
storageClassName: {{ .storageClass | quote }}
{{- end }}
{{- end }}
resources:
  requests:
    storage: {{ .size | quote }}
{{- end }}
