# Restarts foo's Deployments (label app = foo) in namespace abc of cluster-a.local, as
# `kubectl rollout restart` would: their pods are replaced, and the new pods get workload
# certificates from istiod's current CA. Invoke it on demand:
#   terraform apply -invoke=action.meshfed_rollout_restart.foo
# or after a change, from a resource's lifecycle (see action_trigger below).
action "meshfed_rollout_restart" "foo" {
  config {
    cluster   = "cluster-a.local"
    namespace = "abc"
    selector  = { app = "foo" }
    # names = ["foo"]   # optional: only these Deployments among those the selector matches
  }
}

# After a CA change, restart the workloads so that they fetch certificates of the new CA:
#
# resource "meshfed_trust" "fed" {
#   member { cluster = "cluster-a.local" }
#   member { cluster = "cluster-b.local" }
#
#   lifecycle {
#     action_trigger {
#       events  = [after_update]
#       actions = [action.meshfed_rollout_restart.foo]
#     }
#   }
# }
