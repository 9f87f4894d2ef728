# <cluster>/<namespace>/<name> of the ServiceEntry and DestinationRule.
terraform import meshfed_service_entry.bar cluster-a.local/abc/bar-xyz-svc-cluster-b-local
