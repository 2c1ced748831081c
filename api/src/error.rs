use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::DomainError;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Every error the API answers with, mapped to a status code in one place. 4xx bodies say what to
/// fix; 5xx bodies say only that it failed (the detail is logged once, here).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Invalid {
        message: String,
        fields: BTreeMap<String, String>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("this account is banned: {0}")]
    Banned(String),
    #[error(
        "the CSRF token is missing or does not match: send the csrf_token cookie's value in the x-csrf-token header"
    )]
    Csrf,
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The error body: `{"error": {"code", "message", "fields"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Banned(_) | ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::Invalid { .. } => "invalid",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unauthorized { code, .. } => code,
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Banned(_) => "banned",
            ApiError::Csrf => "csrf_failed",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::PayloadTooLarge(_) => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// What a person may be told: the message for a 4xx, a generic sentence for a 5xx.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Unavailable(_) => {
                "the service is temporarily unavailable; try again shortly".to_string()
            }
            e if e.status().is_server_error() => {
                "something went wrong on our side; it has been logged".to_string()
            }
            e => e.to_string(),
        }
    }

    /// The field errors of a 422, by field name.
    pub fn field_errors(&self) -> BTreeMap<String, String> {
        match self {
            ApiError::Invalid { fields, .. } => fields.clone(),
            _ => BTreeMap::new(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            code: "unauthorized",
            message: message.into(),
        }
    }

    pub fn too_many(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        ApiError::TooManyRequests {
            message: message.into(),
            retry_after_secs: retry_after.as_secs_f64().ceil() as u64,
        }
    }

    /// A 422 naming the one field to fix.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::Invalid {
            message: format!("{field}: {message}"),
            fields: BTreeMap::from([(field.to_string(), message)]),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "malformed",
            message: message.into(),
        }
    }
}

impl From<crate::media::ImageError> for ApiError {
    fn from(e: crate::media::ImageError) -> Self {
        use crate::media::ImageError;
        match e {
            ImageError::TooLarge { .. } => ApiError::PayloadTooLarge(e.to_string()),
            ImageError::NotAnImage => ApiError::UnsupportedMediaType(e.to_string()),
            ImageError::TooManyPixels { .. } | ImageError::Damaged(_) => {
                let mut fields = BTreeMap::new();
                fields.insert("file".to_string(), e.to_string());
                ApiError::Invalid {
                    message: e.to_string(),
                    fields,
                }
            }
        }
    }
}

impl From<crate::media::MediaStoreError> for ApiError {
    fn from(e: crate::media::MediaStoreError) -> Self {
        ApiError::Unavailable(format!(
            "{e}: {}",
            std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default()
        ))
    }
}

impl From<crate::kv::KvError> for ApiError {
    fn from(e: crate::kv::KvError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<crate::mail::MailError> for ApiError {
    fn from(e: crate::mail::MailError) -> Self {
        use crate::mail::MailError;
        match e {
            MailError::Address(address) => ApiError::Invalid {
                message: format!("email: '{address}' cannot receive mail"),
                fields: BTreeMap::from([("email".into(), "cannot receive mail".into())]),
            },
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl From<lakehouse::Error> for ApiError {
    fn from(e: lakehouse::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, reason } => ApiError::Invalid {
                message: format!("{field}: {reason}"),
                fields: BTreeMap::from([(field.to_string(), reason)]),
            },
            DomainError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            DomainError::Conflict(m) => ApiError::Conflict(m),
            DomainError::Forbidden(m) => ApiError::Forbidden(m),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection;
        match e {
            // Well-formed JSON with a wrong field or value: say which.
            JsonRejection::JsonDataError(e) => ApiError::Invalid {
                message: e.body_text(),
                fields: BTreeMap::new(),
            },
            other => ApiError::BadRequest {
                code: "malformed_json",
                message: other.body_text(),
            },
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::BadRequest {
            code: "malformed_query",
            message: e.body_text(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, status = status.as_u16(), "request failed");
        }
        let message = self.public_message();
        let code = self.code().to_string();
        let retry_after = match &self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        };
        let fields = match self {
            ApiError::Invalid { fields, .. } => fields,
            _ => BTreeMap::new(),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code,
                    message,
                    fields,
                },
            }),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(seconds.max(1)),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
