use crate::account::AccountCommand;
use crate::activity::{ActivityDetails, ActivityKind};
use crate::actor::Actor;
use crate::catalog::{NewProduct, ProductChanges};
use crate::ids::ProductId;
use crate::shop::NewShop;
use crate::site::SiteConfig;
use chrono::{DateTime, Utc};

/// Who asks, and when. The caller reads the clock; the domain never does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub actor: Actor,
    pub at: DateTime<Utc>,
}

/// Something someone wants to happen. [`crate::decide`] accepts or refuses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    ConfigureSite(SiteConfig),
    CreateShop(NewShop),
    CreateProduct(NewProduct),
    UpdateProduct {
        id: ProductId,
        changes: ProductChanges,
    },
    /// Accounts: registration, passwords, bans, promotions, addresses.
    Account(AccountCommand),
    RecordActivity {
        kind: ActivityKind,
        details: ActivityDetails,
    },
}
