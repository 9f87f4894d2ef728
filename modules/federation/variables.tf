# The module's inputs: the clusters it works with, the services they export to each other, and
# the imports of services that another instance of the module exports (another stack or
# Terragrunt unit). Checks that need only one input are validation blocks here; checks across
# inputs (an export naming a cluster that is not in var.clusters) are preconditions in main.tf,
# because Terraform before 1.9 lets a validation block see its own variable only.

variable "clusters" {
  description = <<-EOT
    The clusters this instance writes to, keyed by their `cluster` label in the meshfed provider
    configuration. A cluster's trust domain, DNS suffix, Istio namespace and network are set in
    that provider block (output `clusters` shows them); here go the settings of meshfed's
    resources for that cluster: `ca`, the member's CA in the trust (meshfed_trust's `ca` block:
    `source`, `key_algorithm`, `root_validity_days`, `intermediate_validity_days`, `cert_pem`,
    `cert_chain_pem`, `root_cert_pem`, `key_secret`), and `gateway`, the east-west gateway its
    exports go through (meshfed_exported_service's `gateway`: `selector`, `namespace`, `port`,
    `service`, `addresses`). Every attribute is optional; null means the provider's default.
  EOT
  type = map(object({
    ca = optional(object({
      source                     = optional(string)
      key_algorithm              = optional(string)
      root_validity_days         = optional(number)
      intermediate_validity_days = optional(number)
      cert_pem                   = optional(string)
      cert_chain_pem             = optional(string)
      root_cert_pem              = optional(string)
      key_secret = optional(object({
        name      = string
        namespace = optional(string)
        key       = optional(string)
      }))
    }))
    gateway = optional(object({
      selector  = optional(map(string))
      namespace = optional(string)
      port      = optional(number)
      service   = optional(string)
      addresses = optional(list(string))
    }))
  }))

  validation {
    condition     = length(var.clusters) > 0
    error_message = "var.clusters must name at least one cluster."
  }
}

variable "exports" {
  description = <<-EOT
    The services to export, each from one cluster (`from`) to the clusters that import it (`to`).
    Each export is one meshfed_exported_service keyed `<service>.<namespace>@<from>`, and each of
    its consumers one meshfed_service_entry keyed `<service>.<namespace>@<from>-><to>`, in
    namespace `import_namespace` (default: the export's namespace) of the consumer. `from` and
    every `to` must be keys of var.clusters.
  EOT
  type = list(object({
    service   = string
    namespace = string
    from      = string
    to        = optional(list(string), [])
    ports = list(object({
      name     = string
      number   = number
      protocol = optional(string, "HTTP")
    }))
    service_account    = optional(string)
    allowed_principals = optional(list(string))
    workload_selector  = optional(map(string))
    alias              = optional(string)
    import_namespace   = optional(string)
    import_export_to   = optional(list(string))
    import_addresses   = optional(list(string))
  }))
  default = []

  validation {
    condition = length(var.exports) == length(distinct([
      for e in var.exports : "${e.service}.${e.namespace}@${e.from}"
    ]))
    error_message = "Each export must be listed once: two exports have the same service, namespace and from cluster (<service>.<namespace>@<from>)."
  }

  validation {
    condition     = alltrue([for e in var.exports : !contains(e.to, e.from)])
    error_message = "An export's to list must not contain its own from cluster: a cluster reaches its own services without meshfed."
  }

  validation {
    condition     = alltrue([for e in var.exports : length(e.to) == length(distinct(e.to))])
    error_message = "An export's to list must name each cluster once."
  }
}

variable "imports" {
  description = <<-EOT
    Imports of services exported by another instance of this module (e.g. another Terragrunt
    unit, through its `exports` output), keyed like that instance's export key
    (`<service>.<namespace>@<from>`). `export` is that output's value for the key; `to` the
    clusters (keys of var.clusters) that import it, each with one meshfed_service_entry keyed
    `<key>-><to>` in `namespace`. A key must not also be an export of this instance.
  EOT
  type = map(object({
    export = object({
      host = string
      ports = list(object({
        name     = string
        number   = number
        protocol = string
      }))
      gateway_endpoints = list(object({
        address = string
        port    = number
      }))
      subject_alt_names = list(string)
      trust_domain      = string
      network           = optional(string)
    })
    to        = list(string)
    namespace = string
    export_to = optional(list(string))
    addresses = optional(list(string))
  }))
  default = {}

  validation {
    condition     = alltrue([for i in var.imports : length(i.to) > 0 && length(i.to) == length(distinct(i.to))])
    error_message = "An import's to list must name at least one cluster, each once."
  }
}

variable "manage_trust" {
  description = "Whether this instance creates the meshfed_trust among every cluster of var.clusters. Set it to false in instances that only export and import when another instance (e.g. a `trust` Terragrunt unit listing every cluster) holds the trust: two trusts over one cluster would fight over its objects."
  type        = bool
  default     = true
}

variable "trust_bundle" {
  description = "meshfed_trust's `bundle`: `mesh_config` (the provider's default when null) or `cacerts`."
  type        = string
  default     = null
}

variable "trust_peers" {
  description = "External parties every member trusts (meshfed_trust's `peer` blocks): `trust_domain` and `root_cert_pem`."
  type = list(object({
    trust_domain  = string
    root_cert_pem = string
  }))
  default = []
}
