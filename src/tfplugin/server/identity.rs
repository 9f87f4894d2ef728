//! Resource identities on the wire: GetResourceIdentitySchemas, UpgradeResourceIdentity, and the
//! identity fields of read, plan, apply and import, decoded and encoded against the identity
//! schema of the resource type. A type without an identity schema reads every identity as null
//! and sends none; so does a null identity, which clients without identity support never see
//! anyway (they ignore the fields).
//!
//! Must not import the go-plugin services or anything outside the protocol layer.

use std::collections::HashMap;

use super::service::{ProviderService, decode};
use crate::tfplugin::diag::Diagnostic;
use crate::tfplugin::identity::IdentitySchema;
use crate::tfplugin::provider::{Provider, UpgradeRequest};
use crate::tfplugin::value::Value;
use crate::tfplugin::wire::{self, proto::tfplugin6 as pb};

fn identity_schema(s: &IdentitySchema) -> pb::ResourceIdentitySchema {
    pb::ResourceIdentitySchema {
        version: s.version,
        identity_attributes: s
            .attributes
            .iter()
            .map(|a| pb::resource_identity_schema::IdentityAttribute {
                name: a.name.clone(),
                r#type: a.ty.to_json().to_string().into_bytes(),
                required_for_import: a.required_for_import,
                optional_for_import: a.optional_for_import,
                description: a.description.clone(),
            })
            .collect(),
    }
}

impl<P: Provider> ProviderService<P> {
    /// GetResourceIdentitySchemas.
    pub(super) fn identity_schemas(&self) -> HashMap<String, pb::ResourceIdentitySchema> {
        self.provider
            .schemas()
            .identities
            .iter()
            .map(|(k, s)| (k.clone(), identity_schema(s)))
            .collect()
    }

    /// The identity Terraform sent for an instance of `type_name`.
    pub(super) fn decode_identity(
        &self,
        type_name: &str,
        data: Option<&pb::ResourceIdentityData>,
    ) -> Result<Value, Diagnostic> {
        let Some(schema) = self.provider.schemas().identities.get(type_name) else {
            return Ok(Value::Null);
        };
        let dv = data.and_then(|d| d.identity_data.as_ref());
        decode(dv, &schema.value_type(), "resource identity")
    }

    /// The identity to send for an instance of `type_name`: none when it is null.
    pub(super) fn encode_identity(
        &self,
        type_name: &str,
        identity: &Value,
    ) -> Result<Option<pb::ResourceIdentityData>, Diagnostic> {
        let schema = self.provider.schemas().identities.get(type_name);
        let (Some(schema), false) = (schema, identity.is_null()) else {
            return Ok(None);
        };
        let dv = wire::to_dynamic_value(identity, &schema.value_type()).map_err(|e| {
            Diagnostic::from_error("meshfed produced an invalid resource identity", &e)
        })?;
        Ok(Some(pb::ResourceIdentityData {
            identity_data: Some(dv),
        }))
    }

    /// UpgradeResourceIdentity.
    pub(super) async fn upgrade_identity(
        &self,
        r: pb::upgrade_resource_identity::Request,
    ) -> pb::upgrade_resource_identity::Response {
        let failed = |diagnostics| pb::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics,
        };
        let type_name = r.type_name.clone();
        let req = UpgradeRequest {
            type_name: r.type_name,
            version: r.version,
            raw: wire::raw_state(r.raw_identity.as_ref()),
        };
        let upgrade = self.provider.upgrade_resource_identity(req);
        let upgraded = match self.guarded("identity upgrade", upgrade).await {
            Ok(Ok(v)) => v,
            Ok(Err(d)) => return failed(wire::diagnostics(&d)),
            Err(d) => return failed(wire::diagnostics(&d.into())),
        };
        match self.encode_identity(&type_name, &upgraded) {
            Ok(identity) => pb::upgrade_resource_identity::Response {
                upgraded_identity: identity,
                diagnostics: vec![],
            },
            Err(d) => failed(wire::diagnostics(&d.into())),
        }
    }
}
