//! Arrow Flight SQL for analysts' own tools (ADBC, JDBC, DBeaver, pandas through ADBC): the
//! same read-only questions as the SQL explorer, answered as Arrow over gRPC. Off unless `serve
//! --flight-sql ADDR` turns it on.
//!
//! - Who: admins and analysts. A client signs in with the handshake (HTTP Basic: e-mail and
//!   password, the same rate limits as the sign-in page) and gets the bearer token back, or brings
//!   an access token from `POST /api/auth/login`; every call after that carries `authorization:
//!   Bearer …` and is checked against the state like any API request (revoked, banned, role).
//! - What: one read-only statement per query, run by [`crate::explorer::ask`] — the explorer's
//!   slots, limits and messages. Prepared statements (what JDBC clients use) are kept per account
//!   until closed; parameters are not supported. The catalog (`datafusion`), its schemas
//!   (`bronze`, `silver`, `gold`) and tables with their columns are listed for browsers.
//! - How: `GetFlightInfo` runs the question and keeps its answer under a one-time ticket that only
//!   the asker can redeem with `DoGet`, so a query runs once, not once to plan and once to fetch.

use crate::app::AppState;
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::explorer;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightServiceServer;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage,
    SchemaAsIpc, Ticket,
};
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use domain::{AccountId, Role};
use futures::{Stream, TryStreamExt};
use lakehouse::arrow::datatypes::{Schema, SchemaRef};
use lakehouse::arrow::ipc::writer::IpcWriteOptions;
use lakehouse::arrow::record_batch::RecordBatch;
use lakehouse::{Answer, Layer};
use prost::Message;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use tonic::metadata::MetadataValue;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

/// The one catalog every table lives in (DataFusion's default), as SQL may spell it.
const CATALOG: &str = "datafusion";
/// An answer not fetched within this long is dropped.
const ANSWER_TTL: Duration = Duration::from_secs(120);
/// A prepared statement unused for this long is dropped.
const PREPARED_TTL: Duration = Duration::from_secs(3600);
/// Answers waiting to be fetched, over everyone; the oldest goes when another arrives.
const MAX_ANSWERS: usize = 16;
/// Prepared statements kept, over everyone.
const MAX_PREPARED: usize = 1024;
/// Who may query over Flight SQL.
const QUERYING_ROLES: [Role; 2] = [Role::Admin, Role::Analyst];

type DoGetStream = Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

/// Serves Flight SQL on `listener` until `shutdown` completes.
pub async fn serve(
    app: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let service = FlightServiceServer::new(FlightSql {
        app,
        held: Mutex::default(),
    });
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}

/// The Flight SQL service over the lake.
struct FlightSql {
    app: AppState,
    held: Mutex<Held>,
}

/// Answers waiting for their `DoGet` and prepared statements waiting to run, by handle.
#[derive(Default)]
struct Held {
    answers: HashMap<String, Kept<Answer>>,
    prepared: HashMap<String, Kept<String>>,
}

struct Kept<T> {
    owner: AccountId,
    since: Instant,
    item: T,
}

impl Held {
    fn keep_answer(&mut self, owner: AccountId, answer: Answer) -> String {
        keep(&mut self.answers, owner, answer, ANSWER_TTL, MAX_ANSWERS)
    }

    fn take_answer(&mut self, owner: AccountId, handle: &str) -> Option<Answer> {
        match self.answers.get(handle) {
            Some(kept) if kept.owner == owner && kept.since.elapsed() < ANSWER_TTL => {
                self.answers.remove(handle).map(|kept| kept.item)
            }
            _ => None,
        }
    }

    fn keep_prepared(&mut self, owner: AccountId, sql: String) -> String {
        keep(&mut self.prepared, owner, sql, PREPARED_TTL, MAX_PREPARED)
    }

    /// The statement behind `handle`, if it is the owner's; using it keeps it alive.
    fn prepared(&mut self, owner: AccountId, handle: &str) -> Option<String> {
        let kept = self.prepared.get_mut(handle)?;
        if kept.owner != owner || kept.since.elapsed() >= PREPARED_TTL {
            return None;
        }
        kept.since = Instant::now();
        Some(kept.item.clone())
    }

    /// Forgets the statement behind `handle`, if it is the owner's.
    fn close_prepared(&mut self, owner: AccountId, handle: &str) {
        if self
            .prepared
            .get(handle)
            .is_some_and(|kept| kept.owner == owner)
        {
            self.prepared.remove(handle);
        }
    }
}

/// Keeps `item` for `owner` under a new handle, after dropping what is older than `ttl` and, past
/// `max` entries, the oldest.
fn keep<T>(
    map: &mut HashMap<String, Kept<T>>,
    owner: AccountId,
    item: T,
    ttl: Duration,
    max: usize,
) -> String {
    let now = Instant::now();
    map.retain(|_, kept| now.duration_since(kept.since) < ttl);
    while map.len() >= max {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, kept)| kept.since)
            .map(|(handle, _)| handle.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
    let handle = uuid::Uuid::new_v4().to_string();
    map.insert(
        handle.clone(),
        Kept {
            owner,
            since: now,
            item,
        },
    );
    handle
}

/// Basic credentials with or without base64 padding (ADBC's Go driver sends none).
const BASIC_CREDENTIALS: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

static SQL_INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
    let mut info = SqlInfoDataBuilder::new();
    info.append(SqlInfo::FlightSqlServerName, "marketplace");
    info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    info.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
    info.append(SqlInfo::FlightSqlServerReadOnly, true);
    info.append(SqlInfo::FlightSqlServerSql, true);
    info.append(SqlInfo::FlightSqlServerSubstrait, false);
    // SqlSupportedTransaction::None: every statement reads committed table versions.
    info.append(SqlInfo::FlightSqlServerTransaction, 0i32);
    info.append(SqlInfo::FlightSqlServerCancel, false);
    info.build().expect("the server's SQL info is well formed")
});

/// The gRPC status for an API error, with the message a person may see.
fn status(error: ApiError) -> Status {
    let message = error.public_message();
    match error {
        ApiError::Unauthorized { .. } => Status::unauthenticated(message),
        ApiError::Forbidden(_) | ApiError::Banned(_) | ApiError::Csrf => {
            Status::permission_denied(message)
        }
        ApiError::BadRequest { .. } | ApiError::Invalid { .. } => Status::invalid_argument(message),
        ApiError::NotFound(_) => Status::not_found(message),
        ApiError::TooManyRequests { .. } => Status::resource_exhausted(message),
        ApiError::Unavailable(_) => Status::unavailable(message),
        other => {
            tracing::error!(error = %other, "flight sql call failed");
            Status::internal(message)
        }
    }
}

fn internal(what: &str, error: impl std::fmt::Display) -> Status {
    tracing::error!(%error, "flight sql: {what}");
    Status::internal(format!("{what} failed"))
}

impl FlightSql {
    /// The admin or analyst behind a call's bearer token.
    fn caller<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Status::unauthenticated(
                    "sign in first: a handshake with your e-mail and password, or an `authorization: Bearer` access token",
                )
            })?;
        let principal = auth::principal_for_token(&self.app, token, false).map_err(status)?;
        auth::require(principal, &QUERYING_ROLES, "admins and analysts").map_err(status)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `sql` for `who` and keeps the answer for its `DoGet`.
    async fn answer(
        &self,
        who: &Principal,
        sql: &str,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let limits = explorer::limits(&self.app, None);
        let answer = explorer::ask(&self.app, who, sql, None, limits)
            .await
            .map_err(status)?;
        let schema = answer.schema.clone();
        let (rows, truncated) = (answer.rows, answer.truncated);
        let handle = self.held().keep_answer(who.account.id, answer);
        let ticket = TicketStatementQuery {
            statement_handle: handle.into(),
        };
        let mut info =
            flight_info(ticket.as_any(), &schema, descriptor)?.with_total_records(rows as i64);
        if truncated {
            info = info.with_app_metadata(format!(
                "truncated: the first {rows} rows of a longer answer (the row limit); aggregate or filter to see all"
            ));
        }
        Ok(Response::new(info))
    }
}

impl FlightSql {
    /// Where a listing (`command`, answered by its `do_get_…`) can be fetched, for a caller who
    /// may query.
    fn listing(
        &self,
        request: Request<FlightDescriptor>,
        command: arrow_flight::sql::Any,
        schema: &Schema,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        flight_info(command, schema, request.into_inner()).map(Response::new)
    }
}

/// A `FlightInfo` with one endpoint whose ticket is `command`.
fn flight_info(
    command: arrow_flight::sql::Any,
    schema: &Schema,
    descriptor: FlightDescriptor,
) -> Result<FlightInfo, Status> {
    let endpoint = FlightEndpoint::new().with_ticket(Ticket::new(command.encode_to_vec()));
    Ok(FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| internal("encoding a schema", e))?
        .with_endpoint(endpoint)
        .with_descriptor(descriptor))
}

/// Streams `batches` (all of `schema`) as Flight data.
fn stream(schema: SchemaRef, batches: Vec<RecordBatch>) -> Response<DoGetStream> {
    let batches = futures::stream::iter(batches.into_iter().map(Ok));
    let data = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(batches)
        .map_err(Status::from);
    Response::new(Box::pin(data))
}

fn one_batch(
    schema: SchemaRef,
    batch: Result<RecordBatch, arrow_flight::error::FlightError>,
) -> Result<Response<DoGetStream>, Status> {
    let batch = batch.map_err(|e| internal("building a listing", e))?;
    Ok(stream(schema, vec![batch]))
}

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    /// Signs in with HTTP Basic (e-mail:password) and answers with the bearer token, in the
    /// `authorization` header and as the payload.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let client = request
            .remote_addr()
            .map_or_else(|| "flight-sql".to_string(), |a| a.ip().to_string());
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = if let Some(basic) = header.strip_prefix("Basic ") {
            let decoded = BASIC_CREDENTIALS
                .decode(basic.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    Status::invalid_argument(
                        "the Basic credentials are not base64 of `e-mail:password`",
                    )
                })?;
            let (email, password) = decoded.split_once(':').ok_or_else(|| {
                Status::invalid_argument("the Basic credentials are not `e-mail:password`")
            })?;
            auth::flows::sign_in(&self.app, email, password, &QUERYING_ROLES, &client)
                .await
                .map_err(|e| match e {
                    // The sign-in flow names the portal to use instead; here only one answer helps.
                    ApiError::Forbidden(_) => Status::permission_denied(
                        "only admins and analysts may query the lakehouse",
                    ),
                    other => status(other),
                })?
                .access_token
        } else {
            // A client that already holds a token: check it and hand it back.
            self.caller(&request)?;
            header["Bearer ".len()..].trim().to_string()
        };
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|e| internal("encoding the token", e))?;
        let reply = HandshakeResponse {
            protocol_version: 0,
            payload: token.into_bytes().into(),
        };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(futures::stream::iter([Ok(reply)])));
        response.metadata_mut().insert("authorization", bearer);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let who = self.caller(&request)?;
        self.answer(&who, &query.query, request.into_inner()).await
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let who = self.caller(&request)?;
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle);
        let sql = self
            .held()
            .prepared(who.account.id, &handle)
            .ok_or_else(|| {
                Status::not_found("no such prepared statement (closed, expired, or not yours)")
            })?;
        self.answer(&who, &sql, request.into_inner()).await
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let who = self.caller(&request)?;
        let handle = String::from_utf8_lossy(&ticket.statement_handle);
        let answer = self
            .held()
            .take_answer(who.account.id, &handle)
            .ok_or_else(|| {
                Status::not_found(format!(
                    "no answer under this ticket: a ticket is good for one fetch, by whoever asked, within {} s",
                    ANSWER_TTL.as_secs()
                ))
            })?;
        Ok(stream(answer.schema, answer.batches))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let who = self.caller(&request)?;
        let schema = explorer::describe(&self.app, &query.query)
            .await
            .map_err(status)?;
        let IpcMessage(dataset_schema) = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|e| internal("encoding a schema", e))?;
        let handle = self.held().keep_prepared(who.account.id, query.query);
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into(),
            dataset_schema,
            parameter_schema: Default::default(),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        let who = self.caller(&request)?;
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle);
        self.held().close_prepared(who.account.id, &handle);
        Ok(())
    }

    async fn do_put_prepared_statement_query(
        &self,
        _query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.caller(&request)?;
        Err(Status::invalid_argument(
            "parameters are not supported: write the values into the SQL",
        ))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.listing(request, query.as_any(), &schema)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let mut catalogs = query.into_builder();
        catalogs.append(CATALOG);
        one_batch(catalogs.schema(), catalogs.build())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.listing(request, query.as_any(), &schema)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let mut schemas = query.into_builder();
        for layer in Layer::ALL {
            schemas.append(CATALOG, layer.as_str());
        }
        one_batch(schemas.schema(), schemas.build())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.listing(request, query.as_any(), &schema)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let tables = lakehouse::catalog(&self.app.lake)
            .await
            .map_err(|e| Status::unavailable(format!("the lake could not be read: {e}")))?;
        let mut listing = query.into_builder();
        for table in &tables {
            listing
                .append(
                    CATALOG,
                    table.name.layer().as_str(),
                    table.name.name(),
                    "TABLE",
                    &table.schema,
                )
                .map_err(|e| internal("listing tables", e))?;
        }
        one_batch(listing.schema(), listing.build())
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.listing(request, query.as_any(), &schema)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let mut types = query.into_builder();
        types.append("TABLE");
        one_batch(types.schema(), types.build())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&SQL_INFO).schema();
        self.listing(request, query.as_any(), &schema)
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let info = query.into_builder(&SQL_INFO);
        one_batch(info.schema(), info.build())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
