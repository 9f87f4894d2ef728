# <cluster>/<namespace>/<service>, plus /<gateway namespace> when the east-west gateway does not
# run in the cluster's istio_namespace.
terraform import meshfed_exported_service.bar cluster-b.local/xyz/bar
