//! Product search: a tantivy index in memory, built from the state on start and kept in step by
//! the command path (every batch that touches products re-indexes them before callers are
//! answered, so a product is findable as soon as its creation is acknowledged).
//!
//! Relevance: every word of the query must match some field; exact matches score above
//! fuzzy ones (edit distance 1 for words of 4+ letters, 2 for 8+), the last word also matches
//! as a prefix (search as you type), and fields weigh title 3, tags and brand 2, category 1.5,
//! description 1 (BM25 within each).

use domain::{Product, ProductId, State};
use std::sync::Mutex;
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TEXT};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

/// Why the index could not be built or updated.
#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

struct Fields {
    /// The product id as a term, for deleting a product's document.
    id: Field,
    /// The product id's two halves as fast fields: read per hit without loading stored documents.
    id_high: Field,
    id_low: Field,
    title: Field,
    description: Field,
    tags: Field,
    brand: Field,
    category: Field,
}

pub struct Search {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

const WRITER_MEMORY: usize = 32 * 1024 * 1024;

impl Search {
    /// An index of every product in `state` that is not deleted.
    pub fn build(state: &State) -> Result<Search, SearchError> {
        let mut schema = Schema::builder();
        let fields = Fields {
            id: schema.add_text_field("id", STRING),
            id_high: schema.add_u64_field("id_high", FAST),
            id_low: schema.add_u64_field("id_low", FAST),
            title: schema.add_text_field("title", TEXT),
            description: schema.add_text_field("description", TEXT),
            tags: schema.add_text_field("tags", TEXT),
            brand: schema.add_text_field("brand", TEXT),
            category: schema.add_text_field("category", TEXT),
        };
        let index = Index::create_in_ram(schema.build());
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let search = Search {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
        };
        let ids: Vec<ProductId> = state.products.keys().copied().collect();
        search.update(state, &ids)?;
        Ok(search)
    }

    fn document(&self, state: &State, product: &Product) -> TantivyDocument {
        let f = &self.fields;
        let category = state.site.category(&product.category);
        let mut category_words = vec![product.category.replace('-', " ")];
        if let Some(c) = category {
            category_words.push(c.name.clone());
            if let Some(sub) = product
                .subcategory
                .as_ref()
                .and_then(|s| c.subcategories.iter().find(|x| &x.slug == s))
            {
                category_words.push(sub.name.clone());
            }
        }
        let (high, low) = product.id.0.as_u64_pair();
        doc!(
            f.id => product.id.to_string(),
            f.id_high => high,
            f.id_low => low,
            f.title => product.title.clone(),
            // The words only: the stored description is HTML. The summary counts as description.
            f.description => format!(
                "{} {}",
                product.details.summary.as_deref().unwrap_or_default(),
                domain::rich_text::plain_text(&product.description)
            ),
            f.tags => product.details.tags.join(" "),
            f.brand => product.details.brand.clone().unwrap_or_default(),
            f.category => category_words.join(" "),
        )
    }

    /// Re-indexes `changed` products as the state has them now (deleted and purged ones leave
    /// the index) and makes the result visible to searches.
    pub fn update(&self, state: &State, changed: &[ProductId]) -> Result<(), SearchError> {
        if changed.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().expect("search writer lock");
        for id in changed {
            writer.delete_term(Term::from_field_text(self.fields.id, &id.to_string()));
            if let Some(product) = state.products.get(id).filter(|p| p.deleted_at.is_none()) {
                writer.add_document(self.document(state, product))?;
            }
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Product ids matching `text`, best first, at most `limit`.
    pub fn query(&self, text: &str, limit: usize) -> Result<Vec<(ProductId, f32)>, SearchError> {
        let words = self.words(text)?;
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let f = &self.fields;
        let weighted = [
            (f.title, 3.0),
            (f.tags, 2.0),
            (f.brand, 2.0),
            (f.category, 1.5),
            (f.description, 1.0),
        ];
        let last = words.len() - 1;
        let mut all: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            let distance = match word.chars().count() {
                0..=3 => 0,
                4..=7 => 1,
                _ => 2,
            };
            let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (field, weight) in weighted {
                let term = Term::from_field_text(field, word);
                let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                any.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(exact), weight * 2.0)),
                ));
                if distance > 0 {
                    let fuzzy = FuzzyTermQuery::new(term.clone(), distance, true);
                    any.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(fuzzy), weight)),
                    ));
                }
                if i == last {
                    let prefix = FuzzyTermQuery::new_prefix(term, 0, true);
                    any.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(prefix), weight)),
                    ));
                }
            }
            all.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        let query = BooleanQuery::new(all);
        let searcher = self.reader.searcher();
        let mut found = searcher.search(&query, &Hits)?;
        // Best first; ties in a stable order (the id), so pages do not shuffle between requests.
        found.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found.truncate(limit);
        Ok(found)
    }

    /// The words of `text` as the index sees them (the default analyzer: split, lower-case).
    fn words(&self, text: &str) -> Result<Vec<String>, SearchError> {
        let mut analyzer = self.index.tokenizer_for_field(self.fields.title)?;
        let mut stream = analyzer.token_stream(text);
        let mut words = Vec::new();
        while let Some(token) = stream.next() {
            words.push(token.text.clone());
        }
        words.truncate(12);
        Ok(words)
    }
}

/// Collects every matching product with its score, reading ids from the fast fields. Cheaper than
/// a top-k collector when the caller wants most of the matches anyway (counts and facets need
/// them): no per-segment heaps, no stored documents.
struct Hits;

struct SegmentHits {
    high: Column<u64>,
    low: Column<u64>,
    found: Vec<(ProductId, f32)>,
}

impl tantivy::collector::Collector for Hits {
    type Fruit = Vec<(ProductId, f32)>;
    type Child = SegmentHits;

    fn for_segment(
        &self,
        _segment: tantivy::SegmentOrdinal,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<SegmentHits> {
        let fast = reader.fast_fields();
        Ok(SegmentHits {
            high: fast.u64("id_high")?,
            low: fast.u64("id_low")?,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(ProductId, f32)>>) -> tantivy::Result<Self::Fruit> {
        Ok(fruits.concat())
    }
}

impl tantivy::collector::SegmentCollector for SegmentHits {
    type Fruit = Vec<(ProductId, f32)>;

    fn collect(&mut self, doc: tantivy::DocId, score: tantivy::Score) {
        if let (Some(high), Some(low)) = (self.high.first(doc), self.low.first(doc)) {
            self.found
                .push((ProductId(uuid::Uuid::from_u64_pair(high, low)), score));
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.found
    }
}

/// The products an event batch touched, to re-index.
pub fn touched(events: &[domain::Event]) -> Vec<ProductId> {
    use domain::Event;
    let mut ids: Vec<ProductId> = events
        .iter()
        .filter_map(|event| match event {
            Event::ProductCreated(p) => Some(p.id),
            // Stock, prices, status and images are not in the index (the state filters on them).
            Event::ProductUpdated { id, changes, .. } => {
                let words = changes.title.is_some()
                    || changes.description.is_some()
                    || changes.category.is_some()
                    || changes.subcategory.is_some()
                    || changes.details.is_some();
                words.then_some(*id)
            }
            Event::ProductDeleted { id, .. }
            | Event::ProductRestored { id, .. }
            | Event::ProductPurged { id, .. }
            | Event::ProductModerated { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{
        Actor, Category, Command, Context, Currency, Money, NewProduct, ProductDetails,
        ProductStatus, ShopId, SiteConfig, Subcategory,
    };

    /// A small fixed catalog.
    fn catalog() -> State {
        let mut state = State::default();
        let ctx = Context {
            actor: Actor::System,
            at: chrono::Utc::now(),
        };
        let run = |state: &mut State, command: Command| {
            for event in domain::decide(state, &command, &ctx).unwrap() {
                state.apply(&event);
            }
        };
        let site = SiteConfig {
            name: "T".into(),
            categories: vec![Category {
                slug: "kitchen".into(),
                name: "Kitchen".into(),
                subcategories: vec![Subcategory {
                    slug: "mugs".into(),
                    name: "Mugs".into(),
                }],
            }],
            logo: None,
            banner: None,
        };
        run(&mut state, Command::ConfigureSite(site));
        let shop = ShopId(uuid::Uuid::from_u128(1));
        run(
            &mut state,
            Command::CreateShop(domain::NewShop {
                id: shop,
                owner: None,
                name: "Shop".into(),
                bio: String::new(),
                category: "kitchen".into(),
                country: "DE".into(),
            }),
        );
        for (n, title, description, tags, brand) in [
            (
                10,
                "Speckled stoneware mug",
                "A heavy mug for coffee",
                vec!["handmade"],
                "Clay & Co",
            ),
            (
                11,
                "Porcelain teacup",
                "Thin walls, for tea; not a mug",
                vec![],
                "Fine",
            ),
            (
                12,
                "Enamel camping mug",
                "Light and tough",
                vec!["outdoor"],
                "Trail",
            ),
            (
                13,
                "Walnut serving board",
                "Oiled walnut",
                vec!["wood"],
                "Grain",
            ),
            (
                14,
                "Stoneware bowl",
                "For soup and ramen",
                vec!["handmade"],
                "Clay & Co",
            ),
        ] {
            run(
                &mut state,
                Command::CreateProduct(NewProduct {
                    id: ProductId(uuid::Uuid::from_u128(n)),
                    shop_id: shop,
                    title: title.into(),
                    description: description.into(),
                    category: "kitchen".into(),
                    // Only cups are in the "Mugs" subcategory.
                    subcategory: (n <= 12).then(|| "mugs".into()),
                    price: Money::new(1000, Currency::USD),
                    sale_price: None,
                    stock: 1,
                    status: ProductStatus::Active,
                    images: Vec::new(),
                    details: ProductDetails {
                        brand: Some(brand.into()),
                        tags: tags.into_iter().map(String::from).collect(),
                        ..Default::default()
                    },
                }),
            );
        }
        state
    }

    fn ids(search: &Search, q: &str) -> Vec<u128> {
        search
            .query(q, 10)
            .unwrap()
            .into_iter()
            .map(|(id, _)| id.0.as_u128())
            .collect()
    }

    #[test]
    fn ranks_title_matches_first_and_tolerates_typos() {
        let state = catalog();
        let search = Search::build(&state).unwrap();
        let mugs = ids(&search, "mug");
        assert_eq!(
            mugs.len(),
            3,
            "two mugs by title, the teacup by description: {mugs:?}"
        );
        assert_eq!(
            mugs.last(),
            Some(&11),
            "a description match ranks below title matches"
        );
        assert_eq!(
            ids(&search, "stonewear mug"),
            vec![10],
            "one typo in a long word"
        );
        assert_eq!(ids(&search, "campnig mug"), vec![12], "a transposition");
        let sorted = |q: &str| {
            let mut v = ids(&search, q);
            v.sort_unstable();
            v
        };
        assert_eq!(
            sorted("Stone"),
            vec![10, 14],
            "the last word matches as a prefix"
        );
        assert_eq!(sorted("handmade"), vec![10, 14], "tags are searched");
        assert_eq!(sorted("clay"), vec![10, 14], "brands are searched");
        assert_eq!(ids(&search, "kitchen").len(), 5, "categories are searched");
        assert!(ids(&search, "xylophone").is_empty());
        assert!(ids(&search, "   ").is_empty());
    }

    #[test]
    fn follows_changes_and_deletions() {
        let mut state = catalog();
        let search = Search::build(&state).unwrap();
        let board = ProductId(uuid::Uuid::from_u128(13));
        let ctx = Context {
            actor: Actor::System,
            at: chrono::Utc::now(),
        };
        let rename = Command::UpdateProduct {
            id: board,
            changes: domain::ProductChanges {
                title: Some("Cheese board".into()),
                ..Default::default()
            },
        };
        let events = domain::decide(&state, &rename, &ctx).unwrap();
        events.iter().for_each(|e| state.apply(e));
        search.update(&state, &touched(&events)).unwrap();
        assert_eq!(ids(&search, "cheese"), vec![13]);
        let events = domain::decide(&state, &Command::DeleteProduct { id: board }, &ctx).unwrap();
        events.iter().for_each(|e| state.apply(e));
        search.update(&state, &touched(&events)).unwrap();
        assert!(
            ids(&search, "cheese").is_empty(),
            "deleted products are not found"
        );
    }
}
