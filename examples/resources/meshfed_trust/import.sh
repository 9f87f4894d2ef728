# The member clusters, comma-separated, in the order of the member blocks.
terraform import meshfed_trust.fed cluster-a.local,cluster-b.local
