# The live state of the federation, checked at every plan: `terraform plan` (and apply) warn with
# each problem and its fix, and go on. Terraform >= 1.5, OpenTofu >= 1.6 (check blocks).
check "federation" {
  data "meshfed_federation_status" "now" {
    clusters = ["cluster-a.local", "cluster-b.local"]
  }

  assert {
    condition     = data.meshfed_federation_status.now.healthy
    error_message = join("\n", [for p in data.meshfed_federation_status.now.problems : "${p.cluster}: ${p.problem} Fix: ${p.fix}"])
  }
}
