//! Column types: domain enums stored as their names, and JSON documents stored as text, read and
//! written as their domain types on both backends.
//!
//! Statuses, kinds and roles are `TEXT` holding the enum's snake_case name (the same name the API
//! uses); a row holding an unknown name fails to load with an error naming it. JSON columns are
//! `TEXT` on both backends, wrapped in [`Json`].

use std::io::Write;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use diesel::{AsExpression, FromSqlRow};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::MultiBackend;
use crate::domain::consent::ConsentKind;
use crate::domain::order::{ContactChannel, IntakeDecision, OrderStatus, TrajectoryKind};
use crate::domain::principal::{OrganisationKind, Role};

/// Stores each listed enum as its name: `as_str()` to write, `FromStr` to read.
macro_rules! text_enums {
    ($($ty:ident),+ $(,)?) => {$(
        const _: () = {
            // The diesel derives, for a type of `domain` (which knows nothing of diesel).
            #[derive(AsExpression, FromSqlRow)]
            #[diesel(foreign_derive, sql_type = Text)]
            #[allow(dead_code)]
            struct Column($ty);

            impl ToSql<Text, MultiBackend> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                    <str as ToSql<Text, MultiBackend>>::to_sql(self.as_str(), out)
                }
            }

            impl ToSql<Text, Pg> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                    <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
                }
            }

            impl ToSql<Text, Sqlite> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                    <str as ToSql<Text, Sqlite>>::to_sql(self.as_str(), out)
                }
            }

            // On every backend: a hot query may run on the backend's own connection.
            impl<DB: Backend> FromSql<Text, DB> for $ty
            where
                String: FromSql<Text, DB>,
            {
                fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                    let name = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                    name.parse::<$ty>().map_err(Into::into)
                }
            }
        };
    )+};
}

text_enums!(
    OrderStatus,
    TrajectoryKind,
    IntakeDecision,
    ContactChannel,
    ConsentKind,
    Role,
    OrganisationKind,
);

/// A JSON document in a `TEXT` column.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Json<T>(pub T);

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned, DB: Backend> FromSql<Text, DB> for Json<T>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
        Ok(Json(serde_json::from_str(&text)?))
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Pg> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        serde_json::to_writer(&mut *out, &self.0)?;
        out.flush()?;
        Ok(IsNull::No)
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Sqlite> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl<T> ToSql<Text, MultiBackend> for Json<T>
where
    T: Serialize + std::fmt::Debug + Send + Sync + 'static,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}
