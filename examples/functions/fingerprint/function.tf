# The fingerprint of a root CA you hold, in the form meshfed_trust's `fingerprints` shows, e.g. to
# check that a federation trusts it:
#   check "partner_root_trusted" {
#     assert {
#       condition     = contains(values(meshfed_trust.fed.fingerprints), provider::meshfed::fingerprint(file("partner-root.pem")))
#       error_message = "The federation does not trust the partner's root."
#     }
#   }
output "partner_root_fingerprint" {
  value = provider::meshfed::fingerprint(file("${path.module}/partner-root.pem"))
}
