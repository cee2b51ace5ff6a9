//! AdmissionReview parsing, image extraction per kind, selectors and modes, decisions and JSONPatch.
