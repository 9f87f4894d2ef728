# What the module gives its caller and other stacks: each import's host, each export whole (for
# another instance's var.imports), the trust's roots, and each cluster's mesh facts.

output "hosts" {
  description = "Each import's host, keyed `<service>.<namespace>@<from>-><to>`: the name workloads in the consuming cluster call, e.g. `bar.xyz.svc.cluster-b.local`."
  value       = { for key, se in meshfed_service_entry.this : key => se.host }
}

output "exports" {
  description = "Each export's `export` object (host, ports, gateway endpoints, SPIFFE identity, trust domain, network), keyed `<service>.<namespace>@<from>`: what another instance's var.imports takes."
  value       = { for key, r in meshfed_exported_service.this : key => r.export }
}

output "service_entries" {
  description = "Each import's meshfed_service_entry ID (`<cluster>/<namespace>/<name>`), keyed like `hosts`."
  value       = { for key, se in meshfed_service_entry.this : key => se.id }
}

output "fingerprints" {
  description = "SHA-256 fingerprint of every party's root certificate, by trust domain; null when manage_trust is false."
  value       = one(meshfed_trust.this[*].fingerprints)
}

output "root_certificates" {
  description = "Every party's root certificate (PEM), by trust domain; null when manage_trust is false."
  value       = one(meshfed_trust.this[*].root_certificates)
}

output "clusters" {
  description = "Each cluster's mesh facts as the provider configuration sets them: `trust_domain`, `domain_suffix`, `istio_namespace`, `network`."
  value = {
    for name, c in data.meshfed_cluster.this : name => {
      trust_domain    = c.trust_domain
      domain_suffix   = c.domain_suffix
      istio_namespace = c.istio_namespace
      network         = c.network
    }
  }
}
