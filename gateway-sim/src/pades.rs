//! The PAdES check of a publication (`SignService.checkPades` @ de019846, review S21):
//! the PDF must be signed (`SignerUtility.isSigned`) and its signatures must verify
//! (`SignerUtility.validate`). A PDF that cannot be loaded is the `BusinessException`
//! the generic handler answers with 500.

use gateway_contract::cda::signature::{TopLevel, is_signed, top_level_signatures};
use gateway_contract::problem::{GtwError, Kind, err};

use crate::cms::{self, Refusal};

/// Whether the publication's PDF passes the dispatcher's signature check.
pub fn check(file: &[u8]) -> Result<(), GtwError> {
    let sign_error = |detail: &str| err(Kind::SignError, detail, "/msg/sign-error");
    match is_signed(file) {
        Err(_) => Err(err(
            Kind::BusinessError,
            "Error while searching signature for file with name",
            "",
        )),
        Ok(false) => Err(sign_error("Il pdf non risulta firmato")),
        Ok(true) if signatures_verify(file) => Ok(()),
        Ok(true) => Err(sign_error("La firma del pdf non risulta valida")),
    }
}

/// `SignerUtility.validate`'s status: false without a form; otherwise the last top-level
/// signature's verdict, where anything that throws (an unreadable range, a CMS that does
/// not parse, a certificate missing or not valid at the signing time, a digest that
/// differs) ends the walk as false, and only a signature that computes false lets a
/// later one decide.
pub fn signatures_verify(file: &[u8]) -> bool {
    let TopLevel::Fields(fields) = top_level_signatures(file) else {
        return false;
    };
    let mut status = true;
    for field in fields {
        let Ok(range) = field else {
            return false;
        };
        match cms::verify(&range.signed_content, &range.contents) {
            Ok(()) => status = true,
            Err(Refusal::Signature) => status = false,
            Err(_) => return false,
        }
    }
    status
}
