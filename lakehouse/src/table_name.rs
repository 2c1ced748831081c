use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The medallion layers: raw events, typed entities, and what people look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Bronze,
    Silver,
    Gold,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::Bronze, Layer::Silver, Layer::Gold];

    pub fn as_str(&self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
        }
    }
}

/// `<layer>.<name>`, as written in SQL. Names are lower-case letters, digits and underscores.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    layer: Layer,
    name: String,
}

impl TableName {
    pub fn new(layer: Layer, name: &str) -> Result<Self> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(TableName {
                layer,
                name: name.to_string(),
            })
        } else {
            Err(Error::TableName(format!("{}.{name}", layer.as_str())))
        }
    }

    pub fn bronze(name: &str) -> Result<Self> {
        Self::new(Layer::Bronze, name)
    }

    pub fn silver(name: &str) -> Result<Self> {
        Self::new(Layer::Silver, name)
    }

    pub fn gold(name: &str) -> Result<Self> {
        Self::new(Layer::Gold, name)
    }

    pub fn layer(&self) -> Layer {
        self.layer
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.layer.as_str(), self.name)
    }
}

impl FromStr for TableName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (layer, name) = s
            .split_once('.')
            .ok_or_else(|| Error::TableName(s.to_string()))?;
        let layer = Layer::ALL
            .into_iter()
            .find(|l| l.as_str() == layer)
            .ok_or_else(|| Error::TableName(s.to_string()))?;
        TableName::new(layer, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_layer_and_name() {
        let t: TableName = "gold.product_daily".parse().unwrap();
        assert_eq!((t.layer(), t.name()), (Layer::Gold, "product_daily"));
        assert_eq!(t.to_string(), "gold.product_daily");
        for bad in [
            "gold",
            "platinum.x",
            "gold.",
            "gold.Product",
            "gold.a-b",
            "gold.1a",
            "bronze.a/../b",
        ] {
            assert!(bad.parse::<TableName>().is_err(), "{bad}");
        }
    }
}
