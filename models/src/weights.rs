//! How much each kind of interaction counts as implicit feedback.

use serde::{Deserialize, Serialize};

/// Confidence of each interaction kind as implicit feedback (view < wishlist < cart < purchase).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InteractionWeights {
    pub view: f32,
    pub wishlist: f32,
    pub cart: f32,
    pub purchase: f32,
}

impl Default for InteractionWeights {
    fn default() -> Self {
        InteractionWeights {
            view: 0.1,
            wishlist: 0.5,
            cart: 0.7,
            purchase: 1.0,
        }
    }
}

impl InteractionWeights {
    /// The weight of an activity kind as written in the lakehouse (`product_view`, …), if it counts.
    pub fn of(&self, kind: &str) -> Option<f32> {
        match kind {
            "product_view" => Some(self.view),
            "add_to_wishlist" => Some(self.wishlist),
            "add_to_cart" => Some(self.cart),
            "purchase" => Some(self.purchase),
            _ => None,
        }
    }

    /// The weight of an action as `silver.interactions` names it (`view`, `wishlist`, `cart`,
    /// `purchase`), if it counts.
    pub fn of_action(&self, action: &str) -> Option<f32> {
        match action {
            "view" => Some(self.view),
            "wishlist" => Some(self.wishlist),
            "cart" => Some(self.cart),
            "purchase" => Some(self.purchase),
            _ => None,
        }
    }

    /// Weights must rise strictly from view to purchase and stay within (0, 1].
    pub fn validate(&self) -> Result<(), String> {
        let ordered = [self.view, self.wishlist, self.cart, self.purchase];
        if ordered.iter().any(|w| !(*w > 0.0 && *w <= 1.0)) {
            return Err("every weight must be above 0 and at most 1".into());
        }
        if ordered.windows(2).any(|w| w[0] >= w[1]) {
            return Err("weights must rise: view < wishlist < cart < purchase".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_weights_rise_with_intent() {
        let w = InteractionWeights::default();
        assert!(w.validate().is_ok());
        assert_eq!(w.of("add_to_cart"), Some(0.7));
        assert_eq!(w.of("search"), None);
        let flat = InteractionWeights { cart: 0.5, ..w };
        assert!(flat.validate().is_err());
    }
}
