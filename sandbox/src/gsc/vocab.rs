//! The search vocabulary of one site: which queries it ranks for, which pages rank, and the
//! (query, page) *pairs* that connect them, each with an impression weight, a typical
//! position and a click-through rate.
//!
//! The vocabulary is bounded (200–2000 queries, 60–300 pages, depending on traffic) and built
//! once per site from a vertical's word lists: brand terms (from the site name), category
//! heads and their modifiers, product names, questions (answered by blog posts) and a
//! long tail of combinations. Every choice is a hash of the site and the text, never a RNG.

use std::collections::{HashMap, HashSet};

use crate::hash::{fnv, mix, range, signed};

/// A country as Search Console reports it (ISO 3166-1 alpha-3, lower case).
#[derive(Debug)]
pub struct Country {
    /// `pol`, `deu`, …
    pub code: &'static str,
    /// English name as GA4 reports it (to follow a linked GA4 property's home country).
    pub name: &'static str,
    /// Country-code top-level domain.
    pub tld: &'static str,
    /// Share of searches when it is not the home country.
    pub weight: f64,
    /// Hours to add to a Pacific hour to get the local hour (rough, ignores DST drift).
    pub shift: u32,
    /// Cities for local queries (florists).
    pub cities: &'static [&'static str],
}

macro_rules! country {
    ($code:expr, $name:expr, $tld:expr, $w:expr, $shift:expr, [$($city:expr),*]) => {
        Country { code: $code, name: $name, tld: $tld, weight: $w, shift: $shift, cities: &[$($city),*] }
    };
}

/// Countries searches come from (at most `model::MAX_BUCKETS` = 32: one split spreads a cell
/// over all of them).
#[rustfmt::skip]
pub const COUNTRIES: &[Country] = &[
    country!("pol", "Poland", "pl", 0.05, 9, ["warsaw", "krakow", "wroclaw", "poznan", "gdansk"]),
    country!("deu", "Germany", "de", 0.09, 9, ["berlin", "munich", "hamburg", "cologne", "frankfurt"]),
    country!("gbr", "United Kingdom", "uk", 0.1, 8, ["london", "manchester", "birmingham", "leeds", "bristol"]),
    country!("usa", "United States", "us", 0.14, 2, ["new york", "los angeles", "chicago", "houston", "seattle"]),
    country!("fra", "France", "fr", 0.05, 9, ["paris", "lyon", "marseille", "toulouse", "nice"]),
    country!("nld", "Netherlands", "nl", 0.04, 9, ["amsterdam", "rotterdam", "utrecht", "the hague", "eindhoven"]),
    country!("cze", "Czechia", "cz", 0.03, 9, ["prague", "brno", "ostrava", "plzen", "olomouc"]),
    country!("esp", "Spain", "es", 0.03, 9, ["madrid", "barcelona", "valencia", "seville", "malaga"]),
    country!("ita", "Italy", "it", 0.03, 9, ["rome", "milan", "naples", "turin", "florence"]),
    country!("ukr", "Ukraine", "ua", 0.03, 10, ["kyiv", "lviv", "odesa", "kharkiv", "dnipro"]),
    country!("swe", "Sweden", "se", 0.02, 9, ["stockholm", "gothenburg", "malmo", "uppsala", "lund"]),
    country!("irl", "Ireland", "ie", 0.02, 8, ["dublin", "cork", "galway", "limerick", "waterford"]),
    country!("aut", "Austria", "at", 0.02, 9, ["vienna", "graz", "linz", "salzburg", "innsbruck"]),
    country!("can", "Canada", "ca", 0.03, 3, ["toronto", "vancouver", "montreal", "calgary", "ottawa"]),
    country!("aus", "Australia", "au", 0.02, 17, ["sydney", "melbourne", "brisbane", "perth", "adelaide"]),
    country!("che", "Switzerland", "ch", 0.015, 9, ["zurich", "geneva", "basel", "bern", "lausanne"]),
    country!("bel", "Belgium", "be", 0.015, 9, ["brussels", "antwerp", "ghent", "bruges", "liege"]),
    country!("dnk", "Denmark", "dk", 0.01, 9, ["copenhagen", "aarhus", "odense", "aalborg", "esbjerg"]),
    country!("nor", "Norway", "no", 0.01, 9, ["oslo", "bergen", "trondheim", "stavanger", "tromso"]),
    country!("prt", "Portugal", "pt", 0.01, 8, ["lisbon", "porto", "braga", "coimbra", "faro"]),
    country!("rou", "Romania", "ro", 0.01, 10, ["bucharest", "cluj", "timisoara", "iasi", "brasov"]),
    country!("hun", "Hungary", "hu", 0.01, 9, ["budapest", "debrecen", "szeged", "pecs", "gyor"]),
    country!("svk", "Slovakia", "sk", 0.008, 9, ["bratislava", "kosice", "zilina", "nitra", "presov"]),
    country!("ltu", "Lithuania", "lt", 0.006, 10, ["vilnius", "kaunas", "klaipeda", "siauliai", "panevezys"]),
    country!("ind", "India", "in", 0.02, 12, ["mumbai", "delhi", "bangalore", "chennai", "pune"]),
    country!("bra", "Brazil", "br", 0.01, 4, ["sao paulo", "rio de janeiro", "brasilia", "salvador", "curitiba"]),
    country!("mex", "Mexico", "mx", 0.008, 1, ["mexico city", "guadalajara", "monterrey", "puebla", "tijuana"]),
    country!("jpn", "Japan", "jp", 0.006, 16, ["tokyo", "osaka", "yokohama", "nagoya", "sapporo"]),
];

/// Index of a country code (`pol`), case-insensitive.
pub fn country_index(code: &str) -> Option<usize> {
    COUNTRIES
        .iter()
        .position(|c| c.code.eq_ignore_ascii_case(code))
}

/// Code of a country by its English name (`Poland` → `pol`).
pub fn country_from_name(name: &str) -> Option<&'static str> {
    COUNTRIES.iter().find(|c| c.name == name).map(|c| c.code)
}

/// Code of a country by its ccTLD (`pl` → `pol`; `co.uk` sites end in `uk`).
pub fn country_from_tld(tld: &str) -> Option<&'static str> {
    COUNTRIES.iter().find(|c| c.tld == tld).map(|c| c.code)
}

/// The kind of shop, which decides the words people search for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vertical {
    /// Shoes, apparel and accessories (matches the GA4 model's items).
    Fashion,
    /// Flowers, bouquets and plants, with local delivery queries.
    Florist,
    /// Consumer electronics accessories.
    Electronics,
}

impl Vertical {
    /// Guesses the vertical from the host name; fashion otherwise.
    pub fn guess(host: &str) -> Vertical {
        let h = host.to_ascii_lowercase();
        if ["flor", "flower", "bloom", "bouquet", "rose", "petal"]
            .iter()
            .any(|k| h.contains(k))
        {
            Vertical::Florist
        } else if ["tech", "electr", "gadget", "audio", "phone", "digital"]
            .iter()
            .any(|k| h.contains(k))
        {
            Vertical::Electronics
        } else {
            Vertical::Fashion
        }
    }

    fn data(self) -> &'static VerticalData {
        match self {
            Vertical::Fashion => &FASHION,
            Vertical::Florist => &FLORIST,
            Vertical::Electronics => &ELECTRONICS,
        }
    }
}

struct VerticalData {
    categories: &'static [&'static str],
    products: &'static [(&'static str, usize)],
    colors: &'static [&'static str],
    audiences: &'static [&'static str],
    modifiers: &'static [&'static str],
    suffixes: &'static [&'static str],
    questions: &'static [&'static str],
    info_pages: &'static [&'static str],
    tail_words: &'static [&'static str],
    local: bool,
}

static FASHION: VerticalData = VerticalData {
    categories: &[
        "running shoes",
        "sneakers",
        "boots",
        "rain boots",
        "rain jackets",
        "parkas",
        "linen shirts",
        "hoodies",
        "t-shirts",
        "jeans",
        "merino socks",
        "tote bags",
        "beanies",
        "leather belts",
    ],
    products: &[
        ("Trail Runner X2", 0),
        ("Road Glide 3", 0),
        ("Tempo Flex", 0),
        ("City Sneaker White", 1),
        ("Court Classic", 1),
        ("Canvas Low", 1),
        ("Chelsea Boot", 2),
        ("Hiker Mid", 2),
        ("Desert Suede Boot", 2),
        ("Rain Boots", 3),
        ("Puddle Jumper", 3),
        ("Stormshell Jacket", 4),
        ("Packable Rain Jacket", 4),
        ("Waterproof Parka", 5),
        ("Arctic Down Parka", 5),
        ("Linen Shirt", 6),
        ("Relaxed Linen Overshirt", 6),
        ("Heavyweight Hoodie", 7),
        ("Zip Hoodie", 7),
        ("Organic Tee", 8),
        ("Pocket Tee", 8),
        ("Slim Selvedge Jeans", 9),
        ("Straight Jeans", 9),
        ("Merino Crew Socks", 10),
        ("Hiking Socks", 10),
        ("Canvas Tote Bag", 11),
        ("Market Tote", 11),
        ("Wool Beanie", 12),
        ("Ribbed Beanie", 12),
        ("Leather Belt", 13),
        ("Braided Belt", 13),
    ],
    colors: &["black", "white", "navy", "grey", "olive", "beige", "red"],
    audiences: &["for women", "for men", "for kids"],
    modifiers: &[
        "best",
        "cheap",
        "sustainable",
        "lightweight",
        "waterproof",
        "vegan",
    ],
    suffixes: &["sale", "online", "discount", "near me"],
    questions: &[
        "how to clean {c}",
        "how to choose {c}",
        "what size {c} should i buy",
        "how long do {c} last",
        "are {c} worth it",
        "how to wash {c}",
        "best {c} for winter",
        "how to style {c}",
    ],
    info_pages: &[
        "about-us",
        "contact",
        "shipping-and-returns",
        "faq",
        "size-guide",
        "gift-cards",
    ],
    tail_words: &[
        "size 38",
        "size 42",
        "size 44",
        "wide fit",
        "with arch support",
        "free shipping",
        "2026",
        "for hiking",
        "for travel",
        "on sale",
    ],
    local: false,
};

static FLORIST: VerticalData = VerticalData {
    categories: &[
        "roses",
        "red roses",
        "tulips",
        "peonies",
        "sunflowers",
        "orchids",
        "lilies",
        "wedding bouquets",
        "birthday flowers",
        "sympathy flowers",
        "flower subscription",
        "dried flowers",
        "house plants",
        "flower boxes",
    ],
    products: &[
        ("Pink Rose Bouquet", 0),
        ("White Rose Dozen", 0),
        ("Classic Red Roses", 1),
        ("Spring Tulip Mix", 2),
        ("Yellow Tulip Bunch", 2),
        ("Blush Peony Bouquet", 3),
        ("Coral Charm Peonies", 3),
        ("Sunshine Sunflowers", 4),
        ("White Orchid Pot", 5),
        ("Phalaenopsis Duo", 5),
        ("Lily Elegance", 6),
        ("Stargazer Lilies", 6),
        ("Bridal Peony Posy", 7),
        ("Boho Wedding Bouquet", 7),
        ("Birthday Brights", 8),
        ("Happy Birthday Box", 8),
        ("Sympathy White Wreath", 9),
        ("Peaceful Lily Tribute", 9),
        ("Monthly Flower Club", 10),
        ("Weekly Fresh Stems", 10),
        ("Dried Pampas Bunch", 11),
        ("Everlasting Bouquet", 11),
        ("Monstera Deliciosa", 12),
        ("Fiddle Leaf Fig", 12),
        ("Rose Hat Box", 13),
        ("Velvet Flower Box", 13),
    ],
    colors: &["red", "white", "pink", "yellow", "purple", "peach"],
    audiences: &["for mom", "for her", "for him"],
    modifiers: &[
        "cheap",
        "fresh",
        "luxury",
        "seasonal",
        "organic",
        "fairtrade",
    ],
    suffixes: &[
        "delivery",
        "same day delivery",
        "online",
        "near me",
        "next day delivery",
        "price",
    ],
    questions: &[
        "how to keep {c} fresh",
        "how long do {c} last",
        "what do {c} symbolize",
        "how to care for {c}",
        "how much do {c} cost",
        "how to dry {c}",
        "are {c} poisonous to cats",
        "when to send {c}",
    ],
    info_pages: &[
        "about-us",
        "contact",
        "delivery-information",
        "faq",
        "flower-care",
        "corporate-orders",
    ],
    tail_words: &[
        "bouquet",
        "arrangement",
        "gift",
        "with vase",
        "with chocolates",
        "for anniversary",
        "for funeral",
        "for valentines day",
    ],
    local: true,
};

static ELECTRONICS: VerticalData = VerticalData {
    categories: &[
        "wireless earbuds",
        "headphones",
        "bluetooth speakers",
        "phone cases",
        "usb c chargers",
        "usb c cables",
        "power banks",
        "smart watches",
        "laptop stands",
        "mechanical keyboards",
        "webcams",
        "monitors",
    ],
    products: &[
        ("Pulse Buds Pro", 0),
        ("Pulse Buds Lite", 0),
        ("Studio ANC 700", 1),
        ("Studio On-Ear 2", 1),
        ("Boom Cube", 2),
        ("Boom Go Mini", 2),
        ("Armor Case 15", 3),
        ("Clear Slim Case", 3),
        ("GaN Charger 65W", 4),
        ("Dual Port Charger 35W", 4),
        ("Braided Cable 2m", 5),
        ("Fast Cable 1m", 5),
        ("PowerCell 20000", 6),
        ("PowerCell Mini 10000", 6),
        ("Fit Watch 3", 7),
        ("Active Watch SE", 7),
        ("Aluminium Laptop Stand", 8),
        ("Foldable Stand", 8),
        ("Tactile TKL Keyboard", 9),
        ("Silent 75 Keyboard", 9),
        ("StreamCam 4K", 10),
        ("Meet Cam HD", 10),
        ("View 27 QHD", 11),
        ("View 24 FHD", 11),
    ],
    colors: &["black", "white", "silver", "blue"],
    audiences: &["for iphone", "for android", "for gaming"],
    modifiers: &[
        "best",
        "cheap",
        "wireless",
        "noise cancelling",
        "portable",
        "fast",
    ],
    suffixes: &["sale", "deals", "online", "review"],
    questions: &[
        "how to pair {c}",
        "how to clean {c}",
        "best {c} under 100",
        "are {c} waterproof",
        "how long do {c} last",
        "how to reset {c}",
        "how to choose {c}",
    ],
    info_pages: &[
        "about-us",
        "contact",
        "shipping-and-returns",
        "faq",
        "warranty",
        "student-discount",
    ],
    tail_words: &[
        "2026",
        "with mic",
        "with usb c",
        "for running",
        "for work",
        "for travel",
        "bluetooth 5.3",
    ],
    local: false,
};

/// What a query is about (drives device mix, CTR and position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// Contains a brand term.
    Brand,
    /// A category head or a modified category.
    Category,
    /// A product name.
    Product,
    /// A question answered by a blog post.
    Question,
    /// A long-tail combination.
    LongTail,
}

impl QueryKind {
    /// Index for per-kind tables.
    pub fn index(self) -> usize {
        match self {
            QueryKind::Brand => 0,
            QueryKind::Category => 1,
            QueryKind::Product => 2,
            QueryKind::Question => 3,
            QueryKind::LongTail => 4,
        }
    }
}

/// What a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// The home page.
    Home,
    /// An info page (`/pages/…`).
    Info,
    /// A category (`/collections/…`).
    Category,
    /// A product (`/products/…`), base or colour variant.
    Product,
    /// A blog post (`/blogs/news/…`).
    Blog,
}

impl PageKind {
    /// Name of the derived child sitemap that lists pages of this kind.
    pub fn sitemap_part(self) -> &'static str {
        match self {
            PageKind::Home | PageKind::Info => "pages",
            PageKind::Category => "collections",
            PageKind::Product => "products",
            PageKind::Blog => "blogs",
        }
    }
}

/// One page of the site.
#[derive(Debug, Clone)]
pub struct Page {
    /// Absolute URL.
    pub url: String,
    /// Kind.
    pub kind: PageKind,
    /// Display name (product or article title).
    pub name: String,
    /// Whether the page is listed in the site's sitemaps.
    pub in_sitemap: bool,
    /// For colour variants: the base product page (Google may pick it as canonical).
    pub base: Option<u32>,
}

/// One query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The query text (lower case).
    pub text: String,
    /// Kind.
    pub kind: QueryKind,
}

/// A (query, page) pair: the unit of impressions in the model.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Query index.
    pub query: u32,
    /// Page index.
    pub page: u32,
    /// Share of the site's web impressions (all pairs sum to 1).
    pub weight: f64,
    /// Typical position.
    pub pos: f64,
    /// Typical click-through rate at that position.
    pub ctr: f64,
    /// Slow trend of the query (growth per year).
    pub trend: f64,
}

/// A site's vocabulary.
#[derive(Debug)]
pub struct Vocab {
    /// Queries, most searched first.
    pub queries: Vec<Query>,
    /// Pages.
    pub pages: Vec<Page>,
    /// Pairs.
    pub pairs: Vec<Pair>,
    /// Lexicographic rank of each query (for the tie-break of the row order).
    pub query_rank: Vec<u32>,
    /// Lexicographic rank of each page URL.
    pub page_rank: Vec<u32>,
    /// Page index by URL.
    pub page_index: HashMap<String, u32>,
}

/// Inputs of [`build`].
pub struct Spec<'a> {
    /// Site hash.
    pub hash: u64,
    /// Page root (ends with `/`).
    pub root: &'a str,
    /// Brand terms (lower case), most important first.
    pub brand: &'a [String],
    /// Vertical.
    pub vertical: Vertical,
    /// Home country index.
    pub home_country: usize,
    /// Target number of queries.
    pub n_queries: usize,
    /// Target number of pages.
    pub n_pages: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Home,
    Info(usize),
    Category(usize),
    Model(usize),
    Variant(usize, usize),
    /// A question's blog post (question id, its category for the fallback).
    Blog(usize, usize),
}

struct Candidate {
    text: String,
    kind: QueryKind,
    weight: f64,
    pos: f64,
    targets: Vec<(Target, f64)>,
}

struct Builder<'a> {
    spec: &'a Spec<'a>,
    seen: HashSet<String>,
    out: Vec<Candidate>,
}

impl Builder<'_> {
    fn h(&self, text: &str, salt: u64) -> u64 {
        mix(&[self.spec.hash, fnv(text), salt])
    }

    /// Adds a candidate unless its text already exists; weights get per-query jitter.
    fn add(
        &mut self,
        text: String,
        kind: QueryKind,
        weight: f64,
        pos: (f64, f64),
        targets: Vec<(Target, f64)>,
    ) {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() || !self.seen.insert(text.clone()) {
            return;
        }
        let weight = weight * (0.55 * signed(self.h(&text, 1))).exp();
        let pos = range(self.h(&text, 2), pos.0, pos.1);
        self.out.push(Candidate {
            text,
            kind,
            weight,
            pos,
            targets,
        });
    }
}

fn pop(hash: u64, i: usize, salt: u64) -> f64 {
    (0.4 * signed(mix(&[hash, salt, i as u64]))).exp() / (1.0 + 0.12 * i as f64)
}

/// Builds the vocabulary.
pub fn build(spec: &Spec<'_>) -> Vocab {
    let data = spec.vertical.data();
    let hash = spec.hash;
    let mut b = Builder {
        spec,
        seen: HashSet::new(),
        out: Vec::new(),
    };
    let cats = data.categories;
    let models = data.products;
    let first_model_of = |c: usize| models.iter().position(|(_, mc)| *mc == c);
    let cat_targets = |c: usize| -> Vec<(Target, f64)> {
        match first_model_of(c) {
            Some(m) => vec![(Target::Category(c), 0.85), (Target::Model(m), 0.15)],
            None => vec![(Target::Category(c), 1.0)],
        }
    };

    // 1. Brand terms.
    for (bi, brand) in spec.brand.iter().enumerate() {
        let w = 50.0 / ((1 + bi) * (1 + bi)) as f64;
        b.add(
            brand.clone(),
            QueryKind::Brand,
            w,
            (1.0, 1.3),
            vec![(Target::Home, 0.92), (Target::Info(0), 0.08)],
        );
        let top_cats = if bi == 0 { cats.len() } else { 3 };
        for (ci, cat) in cats.iter().enumerate().take(top_cats) {
            b.add(
                format!("{brand} {cat}"),
                QueryKind::Brand,
                2.0 * pop(hash, ci, 10) / (1 + bi) as f64,
                (1.1, 2.0),
                vec![(Target::Category(ci), 1.0)],
            );
        }
        if bi > 0 {
            continue;
        }
        let specials: [(&str, f64, (f64, f64), Target); 6] = [
            ("reviews", 4.0, (1.8, 3.2), Target::Home),
            ("discount code", 5.0, (1.2, 2.4), Target::Home),
            ("login", 1.5, (1.0, 1.3), Target::Home),
            ("sale", 3.0, (1.0, 1.8), Target::Home),
            ("returns", 2.0, (1.0, 1.6), Target::Info(2)),
            ("opening hours", 1.0, (1.2, 2.5), Target::Info(1)),
        ];
        for (suffix, w, pos, target) in specials {
            b.add(
                format!("{brand} {suffix}"),
                QueryKind::Brand,
                w,
                pos,
                vec![(target, 1.0)],
            );
        }
        for (ii, slug) in data.info_pages.iter().enumerate() {
            b.add(
                format!("{brand} {}", slug.replace('-', " ")),
                QueryKind::Brand,
                1.0,
                (1.0, 1.6),
                vec![(Target::Info(ii), 1.0)],
            );
        }
        for (m, (name, _)) in models.iter().enumerate() {
            b.add(
                format!("{brand} {}", name.to_lowercase()),
                QueryKind::Brand,
                1.0 * pop(hash, m, 11),
                (1.0, 1.8),
                vec![(Target::Model(m), 1.0)],
            );
        }
    }
    if let Some(host) = spec
        .root
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
    {
        b.add(
            host.trim_start_matches("www.").to_string(),
            QueryKind::Brand,
            3.0,
            (1.0, 1.1),
            vec![(Target::Home, 1.0)],
        );
    }

    // 2. Category heads and modified categories.
    let cities = COUNTRIES
        .get(spec.home_country)
        .map(|c| c.cities)
        .unwrap_or(&[]);
    for (ci, cat) in cats.iter().enumerate() {
        let p = pop(hash, ci, 10);
        b.add(
            cat.to_string(),
            QueryKind::Category,
            25.0 * p,
            (12.0, 34.0),
            cat_targets(ci),
        );
        for m in data.modifiers {
            b.add(
                format!("{m} {cat}"),
                QueryKind::Category,
                3.0 * p,
                (7.0, 26.0),
                cat_targets(ci),
            );
        }
        for s in data.suffixes {
            b.add(
                format!("{cat} {s}"),
                QueryKind::Category,
                3.0 * p,
                (5.0, 20.0),
                cat_targets(ci),
            );
        }
        for a in data.audiences {
            b.add(
                format!("{cat} {a}"),
                QueryKind::Category,
                3.0 * p,
                (6.0, 22.0),
                cat_targets(ci),
            );
        }
        for c in data.colors {
            b.add(
                format!("{c} {cat}"),
                QueryKind::Category,
                1.5 * p,
                (5.0, 18.0),
                cat_targets(ci),
            );
        }
        if data.local {
            for city in cities.iter().take(3) {
                b.add(
                    format!("{cat} delivery {city}"),
                    QueryKind::Category,
                    3.0 * p,
                    (2.0, 9.0),
                    cat_targets(ci),
                );
            }
        }
    }
    if data.local {
        for city in cities {
            b.add(
                format!("florist {city}"),
                QueryKind::Category,
                6.0,
                (3.0, 12.0),
                vec![(Target::Home, 1.0)],
            );
        }
    }

    // 3. Product names.
    for (m, (name, ci)) in models.iter().enumerate() {
        let p = pop(hash, m, 11);
        let lower = name.to_lowercase();
        let product =
            |m: usize, ci: usize| vec![(Target::Model(m), 0.9), (Target::Category(ci), 0.1)];
        b.add(
            lower.clone(),
            QueryKind::Product,
            5.0 * p,
            (1.2, 3.5),
            product(m, *ci),
        );
        b.add(
            format!("{lower} review"),
            QueryKind::Product,
            1.2 * p,
            (2.0, 7.0),
            product(m, *ci),
        );
        for extra in ["price", "sale", "size guide"] {
            b.add(
                format!("{lower} {extra}"),
                QueryKind::Product,
                0.5 * p,
                (1.5, 5.0),
                product(m, *ci),
            );
        }
        for (k, c) in data.colors.iter().enumerate() {
            b.add(
                format!("{lower} {c}"),
                QueryKind::Product,
                0.6 * p,
                (1.3, 4.0),
                vec![(Target::Variant(m, k), 1.0)],
            );
        }
    }

    // 4. Questions, answered by blog posts.
    let mut question_id = 0usize;
    for (qi, template) in data.questions.iter().enumerate() {
        for (ci, cat) in cats.iter().enumerate() {
            let p = pop(hash, ci, 10) * pop(hash, qi, 12);
            b.add(
                template.replace("{c}", cat),
                QueryKind::Question,
                2.0 * p,
                (3.0, 16.0),
                vec![(Target::Blog(question_id, ci), 1.0)],
            );
            question_id += 1;
        }
    }

    // 5. Long tail: hashed combinations until there are enough candidates.
    let want = spec.n_queries + spec.n_queries / 4;
    let mut k = 0u64;
    while b.out.len() < want && k < 40 * want as u64 {
        k += 1;
        let h = mix(&[hash, 77, k]);
        let pick = |salt: u64, n: usize| (mix(&[h, salt]) % n.max(1) as u64) as usize;
        let ci = pick(1, cats.len());
        let m = pick(2, models.len());
        let color = pick(3, data.colors.len());
        let cat = cats.get(ci).copied().unwrap_or("");
        let (model, model_cat) = models.get(m).copied().unwrap_or(("", 0));
        let model = model.to_lowercase();
        let col = data.colors.get(color).copied().unwrap_or("");
        let modifier = data
            .modifiers
            .get(pick(4, data.modifiers.len()))
            .copied()
            .unwrap_or("");
        let aud = data
            .audiences
            .get(pick(5, data.audiences.len()))
            .copied()
            .unwrap_or("");
        let tail = data
            .tail_words
            .get(pick(6, data.tail_words.len()))
            .copied()
            .unwrap_or("");
        let suffix = data
            .suffixes
            .get(pick(7, data.suffixes.len()))
            .copied()
            .unwrap_or("");
        let w = range(mix(&[h, 8]), 0.03, 0.45);
        let (text, targets) = match pick(9, 8) {
            0 => (format!("{modifier} {col} {cat}"), cat_targets(ci)),
            1 => (
                format!("{model} {col} {aud}"),
                vec![(Target::Variant(m, color), 1.0)],
            ),
            2 => (format!("{cat} {tail}"), cat_targets(ci)),
            3 => (format!("{modifier} {cat} {aud}"), cat_targets(ci)),
            4 => (
                format!("{col} {model}"),
                vec![(Target::Variant(m, color), 1.0)],
            ),
            5 => (format!("{cat} {suffix} {aud}"), cat_targets(ci)),
            6 => (
                format!("{model} {tail}"),
                vec![(Target::Model(m), 0.8), (Target::Category(model_cat), 0.2)],
            ),
            _ => (format!("{modifier} {cat} {tail}"), cat_targets(ci)),
        };
        b.add(text, QueryKind::LongTail, w, (4.0, 45.0), targets);
    }

    // Keep the most searched candidates.
    let mut cands = b.out;
    cands.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.text.cmp(&b.text)));
    cands.truncate(spec.n_queries);

    // Pages: home, info, categories, blog posts of kept questions, products, variants.
    let root = spec.root;
    let mut pages: Vec<Page> = Vec::new();
    let mut page = |url: String, kind: PageKind, name: String, base: Option<u32>| {
        pages.push(Page {
            url,
            kind,
            name,
            in_sitemap: true,
            base,
        });
        (pages.len() - 1) as u32
    };
    let home = page(root.to_string(), PageKind::Home, String::new(), None);
    let info: Vec<u32> = data
        .info_pages
        .iter()
        .map(|s| {
            page(
                format!("{root}pages/{s}"),
                PageKind::Info,
                s.replace('-', " "),
                None,
            )
        })
        .collect();
    let category: Vec<u32> = cats
        .iter()
        .map(|c| {
            page(
                format!("{root}collections/{}", slug(c)),
                PageKind::Category,
                c.to_string(),
                None,
            )
        })
        .collect();
    let blog_cap = (spec.n_pages / 8).max(5);
    let mut blog: HashMap<usize, u32> = HashMap::new();
    for c in &cands {
        for (t, _) in &c.targets {
            if let Target::Blog(q, _) = t
                && blog.len() < blog_cap
                && !blog.contains_key(q)
            {
                let id = page(
                    format!("{root}blogs/news/{}", slug(&c.text)),
                    PageKind::Blog,
                    c.text.clone(),
                    None,
                );
                blog.insert(*q, id);
            }
        }
    }
    let budget = |used: usize| spec.n_pages.saturating_sub(used);
    let used = 1 + info.len() + category.len() + blog.len();
    let model_pages: Vec<u32> = models
        .iter()
        .take(budget(used))
        .map(|(name, _)| {
            page(
                format!("{root}products/{}", slug(name)),
                PageKind::Product,
                name.to_string(),
                None,
            )
        })
        .collect();
    let mut variant: HashMap<(usize, usize), u32> = HashMap::new();
    let mut left = budget(used + model_pages.len());
    'fill: for (k, color) in data.colors.iter().enumerate() {
        for (m, &base) in model_pages.iter().enumerate() {
            if left == 0 {
                break 'fill;
            }
            let name = models.get(m).map(|(n, _)| *n).unwrap_or("");
            let id = page(
                format!("{root}products/{}-{color}", slug(name)),
                PageKind::Product,
                format!("{name} – {color}"),
                Some(base),
            );
            variant.insert((m, k), id);
            left -= 1;
        }
    }
    // Some colour variants are left out of the sitemap (Shopify lists base products only).
    for p in pages.iter_mut() {
        if p.base.is_some() {
            p.in_sitemap = mix(&[hash, fnv(&p.url), 3]).is_multiple_of(3);
        }
    }

    let resolve = |t: Target| -> u32 {
        let cat = |c: usize| category.get(c).copied().unwrap_or(home);
        let model = |m: usize| match model_pages.get(m) {
            Some(p) => *p,
            None => cat(models.get(m).map_or(0, |(_, c)| *c)),
        };
        match t {
            Target::Home => home,
            Target::Info(i) => info.get(i).copied().unwrap_or(home),
            Target::Category(c) => cat(c),
            Target::Model(m) => model(m),
            Target::Variant(m, k) => variant.get(&(m, k)).copied().unwrap_or_else(|| model(m)),
            Target::Blog(q, c) => blog.get(&q).copied().unwrap_or_else(|| cat(c)),
        }
    };

    let mut queries = Vec::with_capacity(cands.len());
    let mut pairs = Vec::new();
    for (qi, c) in cands.iter().enumerate() {
        queries.push(Query {
            text: c.text.clone(),
            kind: c.kind,
        });
        let mut merged: Vec<(u32, f64)> = Vec::new();
        for (t, share) in &c.targets {
            let p = resolve(*t);
            match merged.iter_mut().find(|(mp, _)| *mp == p) {
                Some(entry) => entry.1 += share,
                None => merged.push((p, *share)),
            }
        }
        let boost = match c.kind {
            QueryKind::Brand => 1.5,
            QueryKind::Question => 0.8,
            QueryKind::Category => 0.9,
            _ => 1.0,
        };
        let trend = range(mix(&[hash, fnv(&c.text), 4]), -0.25, 0.35);
        for (j, (p, share)) in merged.into_iter().enumerate() {
            // Secondary pages of a query rank lower than its primary page.
            let pos = if j == 0 {
                c.pos
            } else {
                c.pos + range(mix(&[hash, fnv(&c.text), 5, j as u64]), 2.0, 8.0)
            };
            let ctr = (ctr_at(pos) * boost * (0.25 * signed(mix(&[hash, fnv(&c.text), 6]))).exp())
                .min(0.8);
            pairs.push(Pair {
                query: qi as u32,
                page: p,
                weight: c.weight * share,
                pos,
                ctr,
                trend,
            });
        }
    }
    let total: f64 = pairs.iter().map(|p| p.weight).sum();
    if total > 0.0 {
        for p in &mut pairs {
            p.weight /= total;
        }
    }
    let query_rank = ranks(queries.iter().map(|q| q.text.as_str()));
    let page_rank = ranks(pages.iter().map(|p| p.url.as_str()));
    let page_index = pages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.url.clone(), i as u32))
        .collect();
    Vocab {
        queries,
        pages,
        pairs,
        query_rank,
        page_rank,
        page_index,
    }
}

/// Organic click-through rate at an average position (a typical industry curve).
pub fn ctr_at(pos: f64) -> f64 {
    const CURVE: [f64; 10] = [
        0.3, 0.16, 0.1, 0.07, 0.053, 0.04, 0.031, 0.025, 0.021, 0.018,
    ];
    if pos <= 1.0 {
        return CURVE[0];
    }
    if pos >= 10.0 {
        return 0.018 * (10.0 / pos).powf(1.6);
    }
    let i = (pos.floor() as usize).clamp(1, 9);
    let f = pos - i as f64;
    let a = CURVE.get(i - 1).copied().unwrap_or(0.018);
    let b = CURVE.get(i).copied().unwrap_or(0.018);
    a + (b - a) * f
}

/// Lower-case, hyphen-separated ASCII slug.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn ranks<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<u32> {
    let texts: Vec<&str> = texts.collect();
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by(|a, b| texts.get(*a).cmp(&texts.get(*b)));
    let mut rank = vec![0u32; texts.len()];
    for (r, i) in order.into_iter().enumerate() {
        if let Some(slot) = rank.get_mut(i) {
            *slot = r as u32;
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n_queries: usize, n_pages: usize, vertical: Vertical) -> Vocab {
        let brand = vec!["acme shop".to_string(), "acme".to_string()];
        build(&Spec {
            hash: 42,
            root: "https://www.acme-shop.example/",
            brand: &brand,
            vertical,
            home_country: 0,
            n_queries,
            n_pages,
        })
    }

    #[test]
    fn sizes_and_invariants() {
        for (nq, np, v) in [
            (200, 60, Vertical::Fashion),
            (2000, 300, Vertical::Florist),
            (900, 150, Vertical::Electronics),
        ] {
            let vocab = spec(nq, np, v);
            assert_eq!(vocab.queries.len(), nq, "{v:?}");
            assert!(vocab.pages.len() <= np && vocab.pages.len() >= 50, "{v:?}");
            let texts: HashSet<&str> = vocab.queries.iter().map(|q| q.text.as_str()).collect();
            assert_eq!(texts.len(), nq, "queries are unique");
            let total: f64 = vocab.pairs.iter().map(|p| p.weight).sum();
            assert!((total - 1.0).abs() < 1e-9);
            for p in &vocab.pairs {
                assert!((p.query as usize) < vocab.queries.len());
                assert!((p.page as usize) < vocab.pages.len());
                assert!(p.pos >= 1.0 && p.ctr > 0.0 && p.ctr < 1.0);
                assert!(
                    vocab.pages[p.page as usize]
                        .url
                        .starts_with("https://www.acme-shop.example/")
                );
            }
            assert_eq!(vocab.queries[0].kind, QueryKind::Brand);
        }
    }

    #[test]
    fn deterministic() {
        let a = spec(500, 100, Vertical::Fashion);
        let b = spec(500, 100, Vertical::Fashion);
        assert_eq!(a.queries.len(), b.queries.len());
        for (x, y) in a.queries.iter().zip(&b.queries) {
            assert_eq!(x.text, y.text);
        }
        for (x, y) in a.pairs.iter().zip(&b.pairs) {
            assert_eq!((x.query, x.page), (y.query, y.page));
            assert_eq!(x.weight.to_bits(), y.weight.to_bits());
        }
    }

    #[test]
    fn ctr_curve_falls_with_position() {
        assert!(ctr_at(1.0) > ctr_at(2.5));
        assert!(ctr_at(2.5) > ctr_at(9.9));
        assert!(ctr_at(9.9) >= ctr_at(10.0));
        assert!(ctr_at(40.0) < 0.005);
        assert_eq!(slug("Trail Runner X2 – black"), "trail-runner-x2-black");
    }
}
