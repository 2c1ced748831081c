//! Newtype ids: a `ShopId` can never be passed where a `ProductId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The id as a UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A person's account (shopper, seller, admin or analyst).
    AccountId
);
id_type!(
    /// An anonymous visitor's browser session.
    SessionId
);
id_type!(
    /// A seller's shop.
    ShopId
);
id_type!(
    /// A product (or timed offer) in a shop.
    ProductId
);
id_type!(
    /// One event in the log (UUIDv7, so ids sort by time).
    EventId
);
id_type!(
    /// A shopper's saved delivery address.
    AddressId
);
id_type!(
    /// A seller's discount code.
    DiscountCodeId
);
id_type!(
    /// An uploaded image (its resized variants are stored under this id).
    MediaId
);
id_type!(
    /// One payment session of a cart: what the shopper is asked to pay, and the stock it holds.
    CheckoutId
);
id_type!(
    /// One shop's part of a paid checkout.
    OrderId
);
id_type!(
    /// A shopper's review of a product they received.
    ReviewId
);
id_type!(
    /// The one conversation between a shopper and a shop.
    ConversationId
);
id_type!(
    /// One chat message.
    MessageId
);
