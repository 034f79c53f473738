//! One connection over two engines: SQLite (the embedded default, one file per PC) and
//! PostgreSQL (a hub that many PCs write at once). The store's queries are written once, in the
//! dialect the two agree on (SQLite's `?N` placeholders, `ON CONFLICT`, `string_agg`, `IS DISTINCT
//! FROM`); this module turns each into PostgreSQL's on the way (`$N`), binds rusqlite's `ToSql`
//! values to whatever type PostgreSQL inferred, and hands PostgreSQL's columns back through
//! rusqlite's `FromSql`, so a row reads the same from either engine.
//!
//! Where the engines differ and the SQL cannot hide it:
//! - **Writers.** SQLite's `BEGIN IMMEDIATE` takes the one write lock; on PostgreSQL a write
//!   begins by taking one transaction-scoped advisory lock, so writes are serialised exactly as on
//!   SQLite (every check-then-write in the store stays correct) while readers never wait.
//! - **Row numbers.** SQLite gives an `INTEGER PRIMARY KEY` (and every table's `rowid`) the
//!   largest number plus one; the PostgreSQL schema (`pg_schema`) gives the same by a trigger, which
//!   also remembers it for `last_insert_rowid`.
//! - **Waiting.** SQLite's busy handler waits `BUSY_LIMIT` for the write lock; PostgreSQL's
//!   `lock_timeout` does the same, and both end in `StoreError::Busy`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use postgres::types::{FromSql as PgFromSql, IsNull, ToSql as PgToSql, Type};
use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, ToSqlOutput, Value, ValueRef};

/// The advisory lock every PostgreSQL write holds until it commits (any constant: it names
/// kamikarte's writers within the one database).
pub(crate) const WRITE_LOCK: i64 = 0x6b61_6d69_6b61_7274;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Lite(#[from] rusqlite::Error),
    #[error("{}", pg_message(.0))]
    Pg(#[from] postgres::Error),
    #[error("query returned no rows")]
    NoRows,
    #[error("{0}")]
    Bind(String),
}

fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

impl Error {
    /// A write that waited `BUSY_LIMIT` for another one (SQLite busy, PostgreSQL lock timeout).
    pub fn is_busy(&self) -> bool {
        match self {
            Error::Lite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Error::Pg(e) => e.code().is_some_and(|c| {
                *c == postgres::error::SqlState::LOCK_NOT_AVAILABLE
                    || *c == postgres::error::SqlState::QUERY_CANCELED
            }),
            _ => false,
        }
    }

    /// A UNIQUE, CHECK, NOT NULL or foreign key constraint refused the statement.
    pub fn is_constraint(&self) -> bool {
        match self {
            Error::Lite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation),
            Error::Pg(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub enum Connection {
    Lite(rusqlite::Connection),
    Pg(Box<Pg>),
}

pub struct Pg {
    /// How it was reached (pg_dump and pg_restore reach the same server).
    pub config: postgres::Config,
    client: RefCell<postgres::Client>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
    /// Inside a transaction block, where a statement PostgreSQL refuses to prepare would abort
    /// the whole transaction: a first preparation runs under a savepoint there.
    in_transaction: std::cell::Cell<bool>,
    /// A statement failed inside the transaction: PostgreSQL has aborted it, and a COMMIT would
    /// quietly roll it back, so `commit` refuses instead.
    failed: std::cell::Cell<bool>,
    /// A database made for one test (`Store::open_in_memory`), dropped with the connection.
    pub(crate) scratch: Option<(postgres::Config, String)>,
}

impl Pg {
    pub fn new(client: postgres::Client, config: postgres::Config) -> Self {
        Self {
            config,
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            in_transaction: std::cell::Cell::new(false),
            failed: std::cell::Cell::new(false),
            scratch: None,
        }
    }

    fn prepare(&self, sql: &str, values: &[Value]) -> Result<postgres::Statement> {
        let known = self.statements.borrow().get(sql).cloned();
        if let Some(s) = known {
            return Ok(s);
        }
        let guarded = self.in_transaction.get();
        // `?1 IS NULL` before any other use of ?1 says nothing of its type: PostgreSQL names the
        // parameter, which is then given the type of the value bound (the rest still inferred).
        let mut types: Vec<Type> = Vec::new();
        let prepared = loop {
            if guarded {
                self.batch("SAVEPOINT kamikarte_prepare")?;
            }
            let attempt = self.client.borrow_mut().prepare_typed(sql, &types);
            match attempt {
                Ok(s) => {
                    if guarded {
                        self.batch("RELEASE SAVEPOINT kamikarte_prepare")?;
                    }
                    break s;
                }
                Err(e) => {
                    if guarded {
                        // Back to before the attempt, and the savepoint itself gone.
                        self.batch(
                            "ROLLBACK TO SAVEPOINT kamikarte_prepare; RELEASE SAVEPOINT kamikarte_prepare",
                        )?;
                    }
                    let untyped = e
                        .as_db_error()
                        .filter(|d| {
                            *d.code() == postgres::error::SqlState::INDETERMINATE_DATATYPE
                                || *d.code() == postgres::error::SqlState::AMBIGUOUS_PARAMETER
                        })
                        .and_then(|d| parameter_named(sql, d))
                        .filter(|n| {
                            (1..=values.len()).contains(n) && types.get(n - 1).is_none_or(|t| t.oid() == 0)
                        });
                    match untyped {
                        Some(n) => {
                            while types.len() < n {
                                types.push(Type::new(
                                    String::new(),
                                    0,
                                    postgres::types::Kind::Pseudo,
                                    String::new(),
                                ));
                            }
                            types[n - 1] = pg_type_of(&values[n - 1]);
                        }
                        None => {
                            log::debug!("PostgreSQL refused to prepare: {sql}");
                            if std::env::var_os("KAMIKARTE_SQL_DEBUG").is_some() {
                                eprintln!("PostgreSQL refused to prepare ({e}): {sql}");
                            }
                            return Err(e.into());
                        }
                    }
                }
            }
        };
        self.statements.borrow_mut().insert(sql.to_string(), prepared.clone());
        Ok(prepared)
    }

    fn run(&self, sql: &str, params: &[&dyn ToSql]) -> Result<(postgres::Statement, Vec<Value>)> {
        let values = to_values(params)?;
        let statement = self.prepare(&translate(sql), &values)?;
        Ok((statement, values))
    }

    /// Notes a failure inside a transaction (see `failed`).
    fn noted<T>(&self, r: Result<T>) -> Result<T> {
        if r.is_err() && self.in_transaction.get() {
            self.failed.set(true);
        }
        r
    }

    fn query(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<postgres::Row>> {
        let run = || -> Result<Vec<postgres::Row>> {
            let (statement, values) = self.run(sql, params)?;
            let bound: Vec<PgValue<'_>> = values.iter().map(PgValue).collect();
            let refs: Vec<&(dyn PgToSql + Sync)> = bound.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
            Ok(self.client.borrow_mut().query(&statement, &refs)?)
        };
        self.noted(run())
    }

    fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> Result<usize> {
        if !self.in_transaction.get() {
            // A write outside a transaction still takes its turn with the other writers.
            self.batch("BEGIN")?;
            self.in_transaction.set(true);
            let done = self
                .query("SELECT pg_advisory_xact_lock(?1)", &[&WRITE_LOCK])
                .and_then(|_| self.execute(sql, params));
            let ended = if done.is_ok() && !self.failed.get() {
                self.batch("COMMIT")
            } else {
                self.batch("ROLLBACK")
            };
            self.in_transaction.set(false);
            self.failed.set(false);
            return done.and_then(|n| ended.map(|()| n));
        }
        let run = || -> Result<usize> {
            let (statement, values) = self.run(sql, params)?;
            let bound: Vec<PgValue<'_>> = values.iter().map(PgValue).collect();
            let refs: Vec<&(dyn PgToSql + Sync)> = bound.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
            Ok(self.client.borrow_mut().execute(&statement, &refs)? as usize)
        };
        self.noted(run())
    }

    fn batch(&self, sql: &str) -> Result<()> {
        let done = self.client.borrow_mut().batch_execute(sql).map_err(Error::from);
        self.noted(done)
    }
}

/// Anything that binds as a statement's parameters: `params![…]`, `[]`, `[a, b]`, or
/// `params_from_iter(…)`.
pub trait Params {
    fn each(&self) -> Vec<&dyn ToSql>;
}

impl Params for &[&dyn ToSql] {
    fn each(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl Params for [&dyn ToSql; 0] {
    fn each(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn each(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
        impl<T: ToSql> Params for &[T; $n] {
            fn each(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8);

pub struct ParamsFromIter<T>(Vec<T>);

/// The values of an iterator as parameters, in order.
pub fn params_from_iter<I: IntoIterator>(values: I) -> ParamsFromIter<I::Item>
where
    I::Item: ToSql,
{
    ParamsFromIter(values.into_iter().collect())
}

impl<T: ToSql> Params for ParamsFromIter<T> {
    fn each(&self) -> Vec<&dyn ToSql> {
        self.0.iter().map(|v| v as &dyn ToSql).collect()
    }
}

impl<T: ToSql> Params for Vec<T> {
    fn each(&self) -> Vec<&dyn ToSql> {
        self.iter().map(|v| v as &dyn ToSql).collect()
    }
}

/// rusqlite's `params!`, bound through `Params`.
macro_rules! params {
    () => { &[] as &[&dyn ::rusqlite::ToSql] };
    ($($param:expr),+ $(,)?) => { &[$(&$param as &dyn ::rusqlite::ToSql),+] as &[&dyn ::rusqlite::ToSql] };
}
pub(crate) use params;

fn lite_params(p: &impl Params) -> rusqlite::ParamsFromIter<Vec<&dyn ToSql>> {
    rusqlite::params_from_iter(p.each())
}

impl Connection {
    pub fn engine(&self) -> Engine {
        match self {
            Connection::Lite(_) => Engine::Sqlite,
            Connection::Pg(_) => Engine::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (backups by its API, PRAGMAs, SQLCipher).
    pub fn lite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Connection::Lite(c) => Some(c),
            Connection::Pg(_) => None,
        }
    }

    /// The PostgreSQL connection, for what only a hub has (pg_dump).
    pub fn pg(&self) -> Option<&Pg> {
        match self {
            Connection::Lite(_) => None,
            Connection::Pg(pg) => Some(pg),
        }
    }

    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        match self {
            Connection::Lite(c) => Ok(c.prepare_cached(sql)?.execute(lite_params(&params))?),
            Connection::Pg(pg) => pg.execute(sql, &params.each()),
        }
    }

    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Connection::Lite(c) => Ok(c.execute_batch(sql)?),
            Connection::Pg(pg) => pg.batch(sql),
        }
    }

    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        match self {
            Connection::Lite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(lite_params(&params))?;
                match rows.next()? {
                    Some(r) => Ok(f(&Row::Lite(r))?),
                    None => Err(Error::NoRows),
                }
            }
            Connection::Pg(pg) => {
                let rows = pg.query(sql, &params.each())?;
                match rows.first() {
                    Some(r) => Ok(f(&Row::Pg(r))?),
                    None => Err(Error::NoRows),
                }
            }
        }
    }

    /// A statement kept prepared for the next call with the same text.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        match self {
            Connection::Lite(c) => Ok(Statement::Lite(c.prepare_cached(sql)?)),
            Connection::Pg(pg) => Ok(Statement::Pg { pg, sql: sql.to_string() }),
        }
    }

    /// A statement built for one use (its text is made at run time).
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        match self {
            Connection::Lite(c) => Ok(Statement::LiteOnce(c.prepare(sql)?)),
            Connection::Pg(pg) => Ok(Statement::Pg { pg, sql: sql.to_string() }),
        }
    }

    /// The number the last INSERT on this connection gave its row.
    pub fn last_insert_rowid(&self) -> i64 {
        match self {
            Connection::Lite(c) => c.last_insert_rowid(),
            Connection::Pg(pg) => pg
                .query("SELECT CAST(current_setting('kamikarte.last_rowid', true) AS TEXT)", &[])
                .ok()
                .and_then(|rows| rows.first().and_then(|r| r.get::<_, Option<String>>(0)))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        }
    }

    /// Begins a write: it holds the one write lock until it ends.
    pub fn begin_write(&self) -> Result<Transaction<'_>> {
        match self {
            Connection::Lite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            Connection::Pg(pg) => {
                pg.batch("BEGIN")?;
                pg.in_transaction.set(true);
                if let Err(e) = pg.query("SELECT pg_advisory_xact_lock(?1)", &[&WRITE_LOCK]) {
                    let _ = pg.batch("ROLLBACK");
                    pg.in_transaction.set(false);
                    pg.failed.set(false);
                    return Err(e);
                }
            }
        }
        Ok(Transaction { conn: self, done: false })
    }

    /// Begins a transaction that reads one consistent view (and may write, unlocked on
    /// PostgreSQL: only for reads and for writes nothing else makes).
    pub fn unchecked_transaction(&self) -> Result<Transaction<'_>> {
        match self {
            Connection::Lite(c) => c.execute_batch("BEGIN DEFERRED")?,
            Connection::Pg(pg) => {
                pg.batch("BEGIN ISOLATION LEVEL REPEATABLE READ")?;
                pg.in_transaction.set(true);
            }
        }
        Ok(Transaction { conn: self, done: false })
    }

    /// The columns of `table`, in order.
    pub fn columns_of(&self, table: &str) -> Result<Vec<String>> {
        let sql = match self.engine() {
            Engine::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
            Engine::Postgres => {
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?1 AND column_name <> 'rowid'
                 ORDER BY ordinal_position"
            }
        };
        let mut stmt = self.prepare_cached(sql)?;
        let names = stmt.query_map([table], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(names)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // A test's database goes with it (the server would otherwise keep hundreds).
        if let Some((config, name)) = self.scratch.take() {
            let mut admin = config.clone();
            admin.dbname("postgres");
            if let Ok(mut client) =
                super::tls_connector().and_then(|tls| admin.connect(tls).map_err(|e| Error::from(e).into()))
            {
                let _ = client.batch_execute(&super::pg_schema::drop_database_sql(&name));
            }
        }
    }
}

/// A transaction on a connection: rolled back when dropped unless committed.
pub struct Transaction<'c> {
    conn: &'c Connection,
    done: bool,
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        if let Connection::Pg(pg) = self.conn
            && pg.failed.get()
        {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.ended();
            return Err(Error::Bind(
                "a statement of this transaction failed, so PostgreSQL rolled all of it back".into(),
            ));
        }
        let committed = self.conn.execute_batch("COMMIT");
        self.ended();
        committed
    }

    fn ended(&self) {
        if let Connection::Pg(pg) = self.conn {
            pg.in_transaction.set(false);
            pg.failed.set(false);
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.ended();
        }
    }
}

pub enum Statement<'c> {
    Lite(rusqlite::CachedStatement<'c>),
    LiteOnce(rusqlite::Statement<'c>),
    Pg { pg: &'c Pg, sql: String },
}

impl Statement<'_> {
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        match self {
            Statement::Lite(s) => Ok(s.execute(lite_params(&params))?),
            Statement::LiteOnce(s) => Ok(s.execute(lite_params(&params))?),
            Statement::Pg { pg, sql } => pg.execute(sql, &params.each()),
        }
    }

    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        match self {
            Statement::Lite(s) => Ok(Rows::Lite(s.query(lite_params(&params))?)),
            Statement::LiteOnce(s) => Ok(Rows::Lite(s.query(lite_params(&params))?)),
            Statement::Pg { pg, sql } => {
                Ok(Rows::Pg { rows: pg.query(sql, &params.each())?.into_iter(), current: None })
            }
        }
    }

    pub fn query_map<T, P, F>(&mut self, params: P, f: F) -> Result<MappedRows<'_, F>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        Ok(MappedRows { rows: self.query(params)?, f })
    }

    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(r) => Ok(f(&r)?),
            None => Err(Error::NoRows),
        }
    }
}

pub enum Rows<'s> {
    Lite(rusqlite::Rows<'s>),
    Pg { rows: std::vec::IntoIter<postgres::Row>, current: Option<postgres::Row> },
}

impl Rows<'_> {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self {
            Rows::Lite(rows) => Ok(rows.next()?.map(Row::Lite)),
            Rows::Pg { rows, current } => {
                *current = rows.next();
                Ok(current.as_ref().map(Row::Pg))
            }
        }
    }
}

pub struct MappedRows<'s, F> {
    rows: Rows<'s>,
    f: F,
}

impl<T, F: FnMut(&Row<'_>) -> rusqlite::Result<T>> Iterator for MappedRows<'_, F> {
    type Item = rusqlite::Result<T>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.rows.next() {
            Ok(Some(r)) => Some((self.f)(&r)),
            Ok(None) => None,
            Err(Error::Lite(e)) => Some(Err(e)),
            Err(e) => Some(Err(rusqlite::Error::ToSqlConversionFailure(Box::new(e)))),
        }
    }
}

pub enum Row<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

/// A column by number or by name.
pub trait ColumnIndex: Copy {
    fn lite(self, row: &rusqlite::Row<'_>) -> rusqlite::Result<usize>;
    fn pg(self, row: &postgres::Row) -> rusqlite::Result<usize>;
}

impl ColumnIndex for usize {
    fn lite(self, _row: &rusqlite::Row<'_>) -> rusqlite::Result<usize> {
        Ok(self)
    }
    fn pg(self, row: &postgres::Row) -> rusqlite::Result<usize> {
        if self < row.len() { Ok(self) } else { Err(rusqlite::Error::InvalidColumnIndex(self)) }
    }
}

impl ColumnIndex for &str {
    fn lite(self, row: &rusqlite::Row<'_>) -> rusqlite::Result<usize> {
        row.as_ref().column_index(self)
    }
    fn pg(self, row: &postgres::Row) -> rusqlite::Result<usize> {
        row.columns()
            .iter()
            .position(|c| c.name().eq_ignore_ascii_case(self))
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(self.to_string()))
    }
}

impl Row<'_> {
    /// The names of the row's columns, in order.
    pub fn column_names(&self) -> Vec<String> {
        match self {
            Row::Lite(r) => r.as_ref().column_names().into_iter().map(str::to_string).collect(),
            Row::Pg(r) => r.columns().iter().map(|c| c.name().to_string()).collect(),
        }
    }

    pub fn get<I: ColumnIndex, T: FromSql>(&self, index: I) -> rusqlite::Result<T> {
        match self {
            Row::Lite(r) => r.get(index.lite(r)?),
            Row::Pg(r) => {
                let i = index.pg(r)?;
                let value = pg_column(r, i)?;
                T::column_result(ValueRef::from(&value)).map_err(|e| match e {
                    FromSqlError::InvalidType => rusqlite::Error::InvalidColumnType(
                        i,
                        r.columns()[i].name().to_string(),
                        value.data_type(),
                    ),
                    FromSqlError::OutOfRange(n) => rusqlite::Error::IntegralValueOutOfRange(i, n),
                    other => rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(other)),
                })
            }
        }
    }
}

/// `.optional()` on a query for one row.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows | Error::Lite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A PostgreSQL column as the value SQLite would have given.
fn pg_column(row: &postgres::Row, i: usize) -> rusqlite::Result<Value> {
    let failed = |e: Box<dyn StdError + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Null, e)
    };
    let ty = row.columns()[i].type_().clone();
    let v = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Integer)),
        Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.map(|n| Value::Integer(n.into()))),
        Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|v| v.map(|n| Value::Integer(n.into()))),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|v| v.map(|b| Value::Integer(b.into()))),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real)),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i).map(|v| v.map(|f| Value::Real(f.into()))),
        Type::NUMERIC => row.try_get::<_, Option<Numeric>>(i).map(|v| v.map(|n| n.0)),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i).map(|v| v.map(Value::Blob)),
        _ => row.try_get::<_, Option<String>>(i).map(|v| v.map(Value::Text)),
    };
    v.map(|v| v.unwrap_or(Value::Null)).map_err(|e| failed(Box::new(e)))
}

/// PostgreSQL's NUMERIC (what SUM of whole numbers gives), as a whole number when it is one.
struct Numeric(Value);

impl<'a> PgFromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let word = |k: usize| -> Result<i16, Box<dyn StdError + Sync + Send>> {
            let b = raw.get(2 * k..2 * k + 2).ok_or("a NUMERIC cut short")?;
            Ok(i16::from_be_bytes([b[0], b[1]]))
        };
        let (ndigits, weight, sign) = (word(0)? as usize, word(1)?, word(2)? as u16);
        if sign == 0xC000 {
            return Ok(Numeric(Value::Real(f64::NAN)));
        }
        let negative = sign == 0x4000;
        let (mut whole, mut value, mut fraction) = (0i128, 0f64, false);
        for k in 0..ndigits {
            let digit = word(4 + k)?;
            let power = i32::from(weight) - k as i32;
            value += f64::from(digit) * 10000f64.powi(power);
            if power >= 0 {
                whole = whole
                    .saturating_add(i128::from(digit).saturating_mul(10000i128.saturating_pow(power as u32)));
            } else if digit != 0 {
                fraction = true;
            }
        }
        let sign = if negative { -1 } else { 1 };
        Ok(Numeric(match i64::try_from(whole * sign) {
            Ok(n) if !fraction => Value::Integer(n),
            _ => Value::Real(value * sign as f64),
        }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

fn to_values(params: &[&dyn ToSql]) -> Result<Vec<Value>> {
    params
        .iter()
        .map(|p| match p.to_sql()? {
            ToSqlOutput::Borrowed(v) => Ok(match v {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Integer(n),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            }),
            ToSqlOutput::Owned(v) => Ok(v),
            _ => Err(Error::Bind("a parameter of a kind PostgreSQL is not given (zero blob)".into())),
        })
        .collect()
}

/// Which parameter an "indeterminate type" error is about: the `$N` at the error's position in
/// the statement (the message itself is in the server's language), else the message's `$N`.
fn parameter_named(sql: &str, error: &postgres::error::DbError) -> Option<usize> {
    let number = |text: &str| -> Option<usize> {
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    if let Some(postgres::error::ErrorPosition::Original(at)) = error.position() {
        // 1-based, in characters.
        let rest: String = sql.chars().skip((*at as usize).saturating_sub(1)).collect();
        if let Some(n) = rest.strip_prefix('$').and_then(number) {
            return Some(n);
        }
    }
    error.message().rsplit('$').next().and_then(number)
}

fn pg_type_of(v: &Value) -> Type {
    match v {
        Value::Integer(_) => Type::INT8,
        Value::Real(_) => Type::FLOAT8,
        Value::Blob(_) => Type::BYTEA,
        Value::Text(_) | Value::Null => Type::TEXT,
    }
}

/// A value bound as whatever PostgreSQL inferred for its placeholder, as SQLite would have
/// converted it for a column of that type.
#[derive(Debug)]
struct PgValue<'v>(&'v Value);

impl PgToSql for PgValue<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let wrong = || format!("a {} value given where PostgreSQL wants {ty}", self.0.data_type());
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(n), &Type::INT8) => put(*n, ty, out),
            (Value::Integer(n), &Type::INT4) => put(i32::try_from(*n)?, ty, out),
            (Value::Integer(n), &Type::INT2) => put(i16::try_from(*n)?, ty, out),
            (Value::Integer(n), &Type::BOOL) => put(*n != 0, ty, out),
            (Value::Integer(n), &Type::FLOAT8) => put(*n as f64, ty, out),
            (Value::Integer(n), _) if is_text(ty) => put(n.to_string(), ty, out),
            (Value::Real(f), &Type::FLOAT8) => put(*f, ty, out),
            (Value::Real(f), &Type::FLOAT4) => put(*f as f32, ty, out),
            (Value::Real(f), _) if is_text(ty) => put(f.to_string(), ty, out),
            (Value::Text(s), _) if is_text(ty) => put(s.as_str(), ty, out),
            (Value::Text(s), &Type::INT8) => put(s.trim().parse::<i64>().map_err(|_| wrong())?, ty, out),
            (Value::Text(s), &Type::INT4) => put(s.trim().parse::<i32>().map_err(|_| wrong())?, ty, out),
            (Value::Text(s), &Type::FLOAT8) => put(s.trim().parse::<f64>().map_err(|_| wrong())?, ty, out),
            (Value::Blob(b), &Type::BYTEA) => put(b.as_slice(), ty, out),
            _ => Err(wrong().into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn put<T: PgToSql>(
    v: T,
    ty: &Type,
    out: &mut postgres::types::private::BytesMut,
) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
    v.to_sql(ty, out)
}

fn is_text(ty: &Type) -> bool {
    matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN)
}

/// SQLite's placeholders (`?N`, and `?` for the next number) as PostgreSQL's (`$N`); quoted text,
/// quoted names and comments are left as they are.
pub fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut highest = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = if digits.is_empty() { highest + 1 } else { digits.parse().unwrap_or(0) };
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_alphanumeric() || **d == '_') {
                    word.push(*d);
                    chars.next();
                }
                // A column SQLite lets be called `user`; in PostgreSQL the bare word is the
                // server's login name.
                if word == "user" {
                    out.push_str("\"user\"");
                } else {
                    out.push_str(&word);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_postgres_numbers_outside_quotes() {
        assert_eq!(
            translate("SELECT ?1, ?, '?2', \"a?\" -- ?3\n, ?"),
            "SELECT $1, $2, '?2', \"a?\" -- ?3\n, $3"
        );
        assert_eq!(translate("a = ?2 AND b = ?1 AND c = ?"), "a = $2 AND b = $1 AND c = $3");
        assert_eq!(
            translate("SELECT e.user, users.x, user_id FROM t"),
            "SELECT e.\"user\", users.x, user_id FROM t"
        );
    }
}
