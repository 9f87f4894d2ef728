//! GetFunctions and CallFunction: the provider's function signatures on the wire, and a call
//! from its arguments to its result. A call checks the argument count against the signature,
//! decodes each argument against its parameter's type, runs the provider's function under the
//! panic guard and encodes the result against the return type; every failure is a
//! `FunctionError` (pointing at the argument when one is at fault), never a gRPC failure.
//!
//! Must not import the go-plugin services or anything outside the protocol layer.

use super::service::ProviderService;
use crate::tfplugin::function::{Function, FunctionError};
use crate::tfplugin::provider::Provider;
use crate::tfplugin::value::Value;
use crate::tfplugin::wire::{self, proto::tfplugin6 as pb};

/// Every function's signature, by name.
pub(super) fn signatures<P: Provider>(
    provider: &P,
) -> std::collections::HashMap<String, pb::Function> {
    provider
        .schemas()
        .functions
        .iter()
        .map(|(name, f)| (name.clone(), wire::function(f)))
        .collect()
}

impl<P: Provider> ProviderService<P> {
    /// CallFunction: the result, or the error Terraform shows.
    pub(super) async fn call(&self, r: pb::call_function::Request) -> pb::call_function::Response {
        match self.call_checked(r).await {
            Ok(result) => pb::call_function::Response {
                result: Some(result),
                error: None,
            },
            Err(e) => pb::call_function::Response {
                result: None,
                error: Some(wire::function_error(&e)),
            },
        }
    }

    async fn call_checked(
        &self,
        r: pb::call_function::Request,
    ) -> Result<pb::DynamicValue, FunctionError> {
        let functions = &self.provider.schemas().functions;
        let f = functions.get(&r.name).ok_or_else(|| {
            let known: Vec<&str> = functions.keys().map(String::as_str).collect();
            FunctionError::call(format!(
                "meshfed has no function {:?}; its functions are: {}",
                r.name,
                known.join(", ")
            ))
        })?;
        let args = arguments(f, &r.arguments)?;
        let what = format!("function {}", r.name);
        let result = self
            .guarded(&what, self.provider.call_function(&r.name, args))
            .await
            .map_err(|d| FunctionError::call(format!("{}: {}", d.summary, d.detail)))??;
        wire::to_dynamic_value(&result, &f.returns).map_err(|e| {
            FunctionError::call(format!(
                "meshfed produced an invalid result for {what}: {e}"
            ))
        })
    }
}

/// The arguments decoded against their parameters, once their count fits the signature. An
/// argument's error does not repeat the parameter's name: Terraform and OpenTofu prefix it with
/// `Invalid value for "<name>" parameter:`.
fn arguments(f: &Function, given: &[pb::DynamicValue]) -> Result<Vec<Value>, FunctionError> {
    let fixed = f.params.len();
    let fits = if f.variadic.is_some() {
        given.len() >= fixed
    } else {
        given.len() == fixed
    };
    if !fits {
        let names: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
        return Err(FunctionError::call(format!(
            "expected {fixed} argument(s) ({}), got {}",
            names.join(", "),
            given.len()
        )));
    }
    given
        .iter()
        .enumerate()
        .map(|(i, dv)| {
            let p = f
                .param(i)
                .expect("the count was checked against the signature");
            let v = wire::dynamic_value(Some(dv), &p.ty)
                .map_err(|e| FunctionError::argument(i, e.to_string()))?;
            if v.is_null() && !p.allow_null {
                return Err(FunctionError::argument(i, "must not be null"));
            }
            if !v.is_wholly_known() && !p.allow_unknown {
                return Err(FunctionError::argument(i, "must be known"));
            }
            Ok(v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::function::Param;
    use crate::tfplugin::value::Type;

    fn two_strings() -> Function {
        Function::new(
            vec![
                Param::new("first", Type::String, ""),
                Param::new("second", Type::String, ""),
            ],
            Type::String,
            "",
            "",
        )
    }

    fn dv(v: &Value, ty: &Type) -> pb::DynamicValue {
        wire::to_dynamic_value(v, ty).expect("encodes")
    }

    #[test]
    fn arguments_are_counted_decoded_and_checked_for_null_and_unknown() {
        let f = two_strings();
        let a = dv(&Value::string("a"), &Type::String);
        assert_eq!(
            arguments(&f, &[a.clone(), a.clone()]).expect("fits"),
            vec![Value::string("a"), Value::string("a")]
        );
        let few = arguments(&f, std::slice::from_ref(&a)).expect_err("one argument");
        assert_eq!(few.argument, None);
        assert!(
            few.text
                .contains("expected 2 argument(s) (first, second), got 1")
        );
        let null = arguments(&f, &[a.clone(), dv(&Value::Null, &Type::String)]).expect_err("null");
        assert_eq!(null.argument, Some(1));
        assert_eq!(null.text, "must not be null");
        let unknown = arguments(&f, &[dv(&Value::unknown(), &Type::String), a]).expect_err("unk");
        assert_eq!(unknown.argument, Some(0));
    }

    #[test]
    fn a_variadic_parameter_takes_the_arguments_after_the_fixed_ones() {
        let mut f = two_strings();
        f.variadic = Some(Param::new("more", Type::Number, ""));
        let s = dv(&Value::string("s"), &Type::String);
        let n = dv(&Value::int(7), &Type::Number);
        let args = arguments(&f, &[s.clone(), s.clone(), n.clone(), n]).expect("fits");
        assert_eq!(args[3], Value::int(7));
        let wrong = arguments(&f, &[s.clone(), s.clone(), s]).expect_err("string as number");
        assert_eq!(wrong.argument, Some(2));
    }
}
