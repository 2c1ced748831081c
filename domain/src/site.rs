//! The site configuration admins edit: the marketplace's name and its category tree.

use crate::ids::MediaId;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subcategory {
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub subcategories: Vec<Subcategory>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteConfig {
    pub name: String,
    pub categories: Vec<Category>,
    /// Site images uploaded by admins.
    #[serde(default)]
    pub logo: Option<MediaId>,
    #[serde(default)]
    pub banner: Option<MediaId>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            name: "Marketplace".into(),
            categories: Vec::new(),
            logo: None,
            banner: None,
        }
    }
}

impl SiteConfig {
    pub fn category(&self, slug: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.slug == slug)
    }

    /// Whether `category` (and `subcategory`, when given) exist in this configuration.
    pub fn has(&self, category: &str, subcategory: Option<&str>) -> bool {
        match (self.category(category), subcategory) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(c), Some(sub)) => c.subcategories.iter().any(|s| s.slug == sub),
        }
    }
}
