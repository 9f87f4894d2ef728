# The federation of var.clusters: one meshfed_trust among all of them (unless manage_trust is
# false), one meshfed_exported_service per export and one meshfed_service_entry per (export,
# consumer) pair. Every for_each key is derived from names only, never from a list position, so
# adding a cluster or an export creates only the new instances and updates the trust in place.

locals {
  # "<service>.<namespace>@<from>" => the export.
  exports = { for e in var.exports : "${e.service}.${e.namespace}@${e.from}" => e }

  # "<export key>-><to>" => what the consumer's meshfed_service_entry needs.
  local_imports = merge({}, [
    for key, e in local.exports : {
      for to in e.to : "${key}->${to}" => {
        source    = key
        cluster   = to
        namespace = coalesce(e.import_namespace, e.namespace)
        export_to = e.import_export_to
        addresses = e.import_addresses
      }
    }
  ]...)

  remote_imports = merge({}, [
    for key, i in var.imports : {
      for to in i.to : "${key}->${to}" => {
        source    = key
        cluster   = to
        namespace = i.namespace
        export_to = i.export_to
        addresses = i.addresses
      }
    }
  ]...)

  imports = merge(local.local_imports, local.remote_imports)

  # Every export an import may name: this instance's and var.imports', by key (a key that is
  # both is refused below).
  sources = merge(
    { for key, i in var.imports : key => i.export },
    { for key, r in meshfed_exported_service.this : key => r.export },
  )

  cluster_names = join(", ", sort(keys(var.clusters)))
}

data "meshfed_cluster" "this" {
  for_each = var.clusters
  name     = each.key
}

resource "meshfed_trust" "this" {
  count  = var.manage_trust ? 1 : 0
  bundle = var.trust_bundle

  dynamic "member" {
    for_each = var.clusters
    content {
      cluster = member.key

      dynamic "ca" {
        for_each = member.value.ca == null ? [] : [member.value.ca]
        content {
          source                     = ca.value.source
          key_algorithm              = ca.value.key_algorithm
          root_validity_days         = ca.value.root_validity_days
          intermediate_validity_days = ca.value.intermediate_validity_days
          cert_pem                   = ca.value.cert_pem
          cert_chain_pem             = ca.value.cert_chain_pem
          root_cert_pem              = ca.value.root_cert_pem

          dynamic "key_secret" {
            for_each = ca.value.key_secret == null ? [] : [ca.value.key_secret]
            content {
              name      = key_secret.value.name
              namespace = key_secret.value.namespace
              key       = key_secret.value.key
            }
          }
        }
      }
    }
  }

  dynamic "peer" {
    for_each = var.trust_peers
    content {
      trust_domain  = peer.value.trust_domain
      root_cert_pem = peer.value.root_cert_pem
    }
  }
}

resource "meshfed_exported_service" "this" {
  for_each = local.exports

  cluster            = each.value.from
  namespace          = each.value.namespace
  service            = each.value.service
  ports              = each.value.ports
  service_account    = each.value.service_account
  allowed_principals = each.value.allowed_principals
  workload_selector  = each.value.workload_selector
  alias              = each.value.alias
  gateway            = try(var.clusters[each.value.from].gateway, null)

  lifecycle {
    precondition {
      condition     = contains(keys(var.clusters), each.value.from)
      error_message = "Export ${each.key}: from = \"${each.value.from}\" is not a key of var.clusters (${local.cluster_names})."
    }
  }
}

resource "meshfed_service_entry" "this" {
  for_each = local.imports

  cluster   = each.value.cluster
  namespace = each.value.namespace
  export    = local.sources[each.value.source]
  export_to = each.value.export_to
  addresses = each.value.addresses

  lifecycle {
    precondition {
      condition     = contains(keys(var.clusters), each.value.cluster)
      error_message = "Import ${each.key}: to = \"${each.value.cluster}\" is not a key of var.clusters (${local.cluster_names})."
    }
    precondition {
      condition     = !(contains(keys(var.imports), each.value.source) && contains(keys(local.exports), each.value.source))
      error_message = "Import ${each.key}: ${each.value.source} is both an export of this instance and a key of var.imports; import it once, as an export's to."
    }
  }
}
