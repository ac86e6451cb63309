//! The WSDL files of the services, with the endpoint address filled in.

/// Regional XDS registry (ITI-18/42/57/62).
pub const XDS_REGISTRY: &str = include_str!("../wsdl/xds-registry.wsdl");
/// One XDS repository (ITI-41/43); `{{NAME}}` and `{{REPOSITORY_ID}}` are filled in.
pub const XDS_REPOSITORY: &str = include_str!("../wsdl/xds-repository.wsdl");

/// IGestoreConsensoService of one ASL; `{{ASL}}` is filled in.
pub const CONSENT_SERVICE: &str = include_str!("../wsdl/IGestoreConsensoService.wsdl");

/// IDocumentService of one ASL; `{{ASL}}` is filled in.
pub const DOCUMENT_SERVICE: &str = include_str!("../wsdl/IDocumentService.wsdl");

/// ITaccuinoService of one ASL; `{{ASL}}` is filled in.
pub const NOTEBOOK_SERVICE: &str = include_str!("../wsdl/ITaccuinoService.wsdl");

/// Fills the placeholders of a WSDL template (values are XML-escaped).
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_string(), |acc, (k, v)| {
        acc.replace(&format!("{{{{{k}}}}}"), &crate::write::escape(v))
    })
}
