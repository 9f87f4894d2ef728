//! Translation of the API server's answers into [`K8sError`]: a failed answer's HTTP code and
//! `Status` body become the variant that says what went wrong (three kinds of 404 told apart,
//! RBAC denials read for their verb and resource). Pure.

use kube::core::Status;

use super::error::{Denial, FailedRequest, K8sError, Op};
use super::object::ObjectRef;

/// The request an answer belongs to: enough to build an error that names everything.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    pub cluster: &'a str,
    pub op: Op,
    pub object: &'a ObjectRef,
    /// Where the connection settings came from (for 401s).
    pub origin: &'a str,
    /// The API server's URL (for connection failures).
    pub url: &'a str,
}

impl Target<'_> {
    /// The failed request, for an error.
    pub(crate) fn request(&self) -> Box<FailedRequest> {
        Box::new(FailedRequest {
            cluster: self.cluster.to_string(),
            op: self.op,
            object: self.object.clone(),
        })
    }

    /// The error for a failed answer: `code` is the HTTP status, `status` the body (a `Status`
    /// the API server wrote, or one made up from a body that was not).
    pub(crate) fn rejection(&self, code: u16, status: &Status) -> K8sError {
        let request = self.request();
        let message = status_message(code, status);
        match code {
            404 => self.not_found(status),
            401 => K8sError::Unauthorized {
                request,
                origin: self.origin.to_string(),
                message,
            },
            403 => {
                let (verb, resource) = denied_verb_and_resource(&message)
                    .unwrap_or_else(|| (self.op.rbac_verb().to_string(), self.object.resource()));
                K8sError::Forbidden {
                    request,
                    denial: Box::new(Denial {
                        verb,
                        resource,
                        namespace: self.object.namespace.clone(),
                        user: denied_user(&message),
                        origin: self.origin.to_string(),
                        message,
                    }),
                }
            }
            400 | 422 => K8sError::Invalid {
                request,
                code,
                message,
            },
            409 => K8sError::Conflict { request, message },
            _ => K8sError::Api {
                request,
                code,
                reason: status.reason.clone(),
                message,
            },
        }
    }

    /// Tells the three kinds of 404 apart by the `Status` details:
    /// - `details.kind == "namespaces"` (and the object is not itself a namespace): its namespace
    ///   is missing (only writes check this);
    /// - `details.name` or `details.kind` set: the API server knows the resource, so it is the
    ///   object that is missing;
    /// - no details at all ("the server could not find the requested resource", or a plain-text
    ///   `404 page not found`): the URL itself is unknown, i.e. the kind is not served.
    fn not_found(&self, status: &Status) -> K8sError {
        let details = status.details.as_ref();
        let kind = details.map_or("", |d| d.kind.as_str());
        let name = details.map_or("", |d| d.name.as_str());
        let plural = self.object.api_resource().plural;
        if kind == "namespaces" && plural != "namespaces" {
            let namespace = if name.is_empty() {
                self.object.namespace.clone().unwrap_or_default()
            } else {
                name.to_string()
            };
            K8sError::NamespaceMissing {
                request: self.request(),
                namespace,
            }
        } else if !name.is_empty() || !kind.is_empty() {
            K8sError::NotFound {
                request: self.request(),
            }
        } else {
            K8sError::MissingKind {
                cluster: self.cluster.to_string(),
                api_version: self.object.api_version.clone(),
                kind: self.object.kind.clone(),
            }
        }
    }
}

fn status_message(code: u16, status: &Status) -> String {
    if status.message.is_empty() {
        format!("HTTP {code} {}", status.reason)
            .trim_end()
            .to_string()
    } else {
        status.message.clone()
    }
}

/// Reads the identity from an RBAC denial: `... is forbidden: User "<user>" cannot ...`.
fn denied_user(message: &str) -> Option<String> {
    let rest = &message[message.find("User \"")? + "User \"".len()..];
    let (user, _) = rest.split_once('"')?;
    (!user.is_empty()).then(|| user.to_string())
}

/// Reads `... cannot <verb> resource "<resource>" in API group "<group>" ...` from an RBAC denial.
fn denied_verb_and_resource(message: &str) -> Option<(String, String)> {
    let rest = &message[message.find(" cannot ")? + " cannot ".len()..];
    let (verb, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("resource \"")?;
    let (resource, rest) = rest.split_once('"')?;
    let group = rest
        .strip_prefix(" in API group \"")
        .and_then(|g| g.split_once('"'))
        .map_or("", |(g, _)| g);
    let resource = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    Some((verb.to_string(), resource))
}
#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::StatusDetails;

    fn se() -> ObjectRef {
        ObjectRef::namespaced("networking.istio.io/v1", "ServiceEntry", "abc", "bar")
    }

    fn target(object: &ObjectRef) -> Target<'_> {
        Target {
            cluster: "cluster-a.local",
            op: Op::Apply,
            object,
            origin: "kubeconfig /k, context a",
            url: "https://127.0.0.1:6443/",
        }
    }

    /// The error for `obj`'s request (see [`target`]) answered with `code` and a `Status` body
    /// without details.
    fn rejected(obj: &ObjectRef, code: u16, message: &str, reason: &str) -> K8sError {
        target(obj).rejection(code, &Status::failure(message, reason))
    }

    /// The same, with details naming the `kind` and `name` the answer is about.
    fn rejected_naming(
        obj: &ObjectRef,
        code: u16,
        message: &str,
        reason: &str,
        kind: &str,
        name: &str,
    ) -> K8sError {
        let mut status = Status::failure(message, reason);
        status.details = Some(StatusDetails {
            kind: kind.into(),
            name: name.into(),
            group: String::new(),
            uid: String::new(),
            causes: Vec::new(),
            retry_after_seconds: 0,
        });
        target(obj).rejection(code, &status)
    }

    /// The answer when namespace `abc` does not exist.
    fn namespace_abc_not_found(obj: &ObjectRef) -> K8sError {
        let message = "namespaces \"abc\" not found";
        rejected_naming(obj, 404, message, "NotFound", "namespaces", "abc")
    }

    #[test]
    fn messages_name_the_cluster_the_object_and_the_operation() {
        let obj = se();
        let e = rejected(&obj, 422, "spec.resolution: Unsupported value", "Invalid");
        assert_eq!(
            e.to_string(),
            "cluster-a.local: apply networking.istio.io/v1 ServiceEntry abc/bar: refused as \
             invalid: spec.resolution: Unsupported value"
        );
        assert_eq!(e.cluster(), "cluster-a.local");
        assert_eq!(e.object(), Some(&obj));
    }

    #[test]
    fn a_404_without_details_means_the_kind_is_not_served() {
        let obj = se();
        let message = "the server could not find the requested resource";
        let e = rejected(&obj, 404, message, "NotFound");
        assert!(e.is_missing_kind(), "{e:?}");
        assert_eq!(
            e.to_string(),
            "cluster-a.local: the API server does not serve networking.istio.io/v1 ServiceEntry \
             (is its CustomResourceDefinition installed?)"
        );
        let plain = rejected(&obj, 404, "404 page not found", "");
        assert!(plain.is_missing_kind(), "{plain:?}");
    }

    #[test]
    fn a_404_naming_the_namespace_means_the_namespace_is_missing() {
        let e = namespace_abc_not_found(&se());
        assert!(e.is_namespace_missing(), "{e:?}");
        assert!(
            e.to_string().contains("namespace \"abc\" does not exist"),
            "{e}"
        );
    }

    #[test]
    fn a_404_naming_the_object_means_the_object_is_gone() {
        let e = rejected_naming(&se(), 404, "not found", "NotFound", "serviceentries", "bar");
        assert!(e.is_not_found(), "{e:?}");
        let ns = ObjectRef::cluster_scoped("v1", "Namespace", "abc");
        let e = namespace_abc_not_found(&ns);
        assert!(
            e.is_not_found(),
            "a missing Namespace object is just gone: {e:?}"
        );
    }

    #[test]
    fn rbac_denials_say_which_verb_on_which_resource() {
        let obj = se();
        let message = "serviceentries.networking.istio.io \"bar\" is forbidden: User \"bob\" \
                       cannot patch resource \"serviceentries\" in API group \
                       \"networking.istio.io\" in the namespace \"abc\"";
        let e = rejected_naming(&obj, 403, message, "Forbidden", "serviceentries", "bar");
        match &e {
            K8sError::Forbidden { denial, .. } => {
                assert_eq!(denial.verb, "patch");
                assert_eq!(denial.resource, "serviceentries.networking.istio.io");
                assert_eq!(denial.namespace.as_deref(), Some("abc"));
                assert_eq!(denial.user.as_deref(), Some("bob"));
            }
            other => panic!("expected Forbidden, got {other:?}"),
        }
        assert!(
            e.to_string().starts_with(
                "cluster-a.local: apply networking.istio.io/v1 ServiceEntry abc/bar: forbidden: \
                 bob may not patch serviceentries.networking.istio.io in namespace \"abc\": \
                 serviceentries.networking.istio.io \"bar\" is forbidden: User \"bob\""
            ),
            "{e}"
        );
    }

    #[test]
    fn a_denial_of_a_service_account_names_it_whole() {
        let obj = ObjectRef::namespaced("v1", "ConfigMap", "istio-system", "x");
        let message = "configmaps \"x\" is forbidden: User \
                       \"system:serviceaccount:meshfed-system:meshfed\" cannot create resource \
                       \"configmaps\" in API group \"\" in the namespace \"istio-system\"";
        let e = rejected_naming(&obj, 403, message, "Forbidden", "configmaps", "x");
        assert!(
            e.to_string().contains(
                "forbidden: system:serviceaccount:meshfed-system:meshfed may not create \
                 configmaps in namespace \"istio-system\""
            ),
            "{e}"
        );
    }

    #[test]
    fn a_denial_in_other_words_falls_back_to_the_request_and_the_credentials() {
        let obj = ObjectRef::namespaced("v1", "ConfigMap", "abc", "x");
        let e = rejected(&obj, 403, "namespace abc is being terminated", "Forbidden");
        assert!(
            e.to_string().contains(
                "the credentials of kubeconfig /k, context a may not patch configmaps in \
                 namespace \"abc\""
            ),
            "{e}"
        );
    }

    #[test]
    fn credentials_refused_name_where_they_came_from() {
        let obj = se();
        let e = rejected(&obj, 401, "Unauthorized", "Unauthorized");
        assert!(e.is_access_denied());
        assert!(
            e.to_string()
                .contains("rejected the credentials of kubeconfig /k, context a"),
            "{e}"
        );
    }

    #[test]
    fn other_answers_keep_code_reason_and_message() {
        let obj = se();
        let e = rejected(&obj, 503, "etcd unavailable", "ServiceUnavailable");
        assert_eq!(
            e.to_string(),
            "cluster-a.local: apply networking.istio.io/v1 ServiceEntry abc/bar: the API server \
             answered 503 ServiceUnavailable: etcd unavailable"
        );
        let c = rejected(&obj, 409, "the object has been modified", "Conflict");
        assert!(matches!(c, K8sError::Conflict { .. }), "{c:?}");
    }
}
