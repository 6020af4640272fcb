//! The plant file: an ISA-95 style hierarchy (enterprise / site / area / line / asset / component)
//! with reusable asset types. Parsed from TOML into raw structures that keep source spans, then
//! validated into a [`Plant`]; every error names the file, line, column and field.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range as ByteRange;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::envelope::{Envelope, EnvelopeSet, Range, Selector};
use crate::units::{self, Dimension, Unit};

/// What a signal measures over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A continuously varying process value (temperature, current, flow).
    Process,
    /// A monotonically increasing total (parts produced, energy); resets are detected.
    Counter,
    /// A high-rate signal that arrives as frames (vibration); stored as features and captures.
    Waveform,
    /// A discrete state or enumeration; the value is an index into `states`.
    State,
}

/// A validated signal of an asset (instantiated from its type).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub name: String,
    #[serde(serialize_with = "ser_unit")]
    pub unit: Unit,
    pub kind: SignalKind,
    pub rate_hz: f64,
    pub description: String,
    /// Component of the asset this signal is measured on (e.g. "de_bearing"), if any.
    pub component: Option<String>,
    /// Labels of the values of a state signal, by index.
    pub states: Vec<String>,
    /// Physically possible range; values outside are quarantined as absurd.
    pub valid: Range,
    pub envelopes: EnvelopeSet,
    /// For a feature computed from a waveform's frames (see [`WAVEFORM_FEATURES`]): the waveform signal's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<String>,
}

fn ser_unit<S: serde::Serializer>(u: &Unit, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(u.symbol)
}

/// A part of an asset (bearing, impeller, winding) that degrades and is maintained on its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    pub id: String,
    pub kind: String,
    pub description: String,
    pub params: BTreeMap<String, f64>,
}

/// How the operating state of an asset is derived from one of its signals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunningRule {
    pub signal: String,
    /// Running when the signal is above this value (in the signal's unit).
    pub above: f64,
}

/// Production counters used for performance and quality (OEE).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Production {
    /// Counter signal of all units produced.
    pub total: String,
    /// Counter signal of rejected (scrap) units, if measured.
    pub scrap: Option<String>,
    /// Ideal cycle time per unit in seconds (ISO 22400 "planned run time per item").
    pub ideal_cycle_s: f64,
}

/// What the predictive models of an asset type read, and how often (plant file `[asset_types.X.predict]`).
/// The loader adds the output signals of [`PREDICTION_SIGNALS`] to the type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictSpec {
    /// Process signals whose step means are the models' inputs (vibration, temperatures, residuals...).
    pub inputs: Vec<String>,
    /// Process signals that describe the operating point (load, speed); they decide the operating regime.
    pub settings: Vec<String>,
    /// Length of one step of the models' trajectories, seconds.
    pub step_s: f64,
    /// Horizon of `failure_probability`, seconds.
    pub horizon_s: f64,
}

/// Value of [`Signal::derived_from`] for the signals written by the predictive models.
pub const PREDICTION: &str = "prediction";

/// A prediction output signal: (name, unit, description, envelope as (normal high, warning high) — outside
/// warning is an alarm).
pub type PredictionSignal = (&'static str, &'static str, &'static str, Option<(f64, f64)>);

/// Signals added to every asset type with a `predict` table.
pub const PREDICTION_SIGNALS: [PredictionSignal; 6] = [
    ("health_index", "1", "health index from the degradation model: 1 = as new, 0 = failed", None),
    (
        "anomaly_score",
        "1",
        "multivariate anomaly score (PCA T² / SPE over the model inputs) divided by its threshold: above 1 = unusual",
        Some((1.0, 3.0)),
    ),
    ("rul", "h", "predicted remaining useful life (running time to failure)", None),
    ("rul_lower", "h", "lower end of the 90 % prediction interval of the remaining useful life", None),
    ("rul_upper", "h", "upper end of the 90 % prediction interval of the remaining useful life", None),
    (
        "failure_probability",
        "%",
        "probability that the asset fails within the prediction horizon",
        Some((20.0, 50.0)),
    ),
];

/// A reusable asset template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetType {
    pub id: String,
    pub description: String,
    /// Nominal parameters (rated power, rated speed ...), overridable per asset.
    pub params: BTreeMap<String, f64>,
    pub components: Vec<Component>,
    pub signals: Vec<Signal>,
    pub running: Option<RunningRule>,
    pub production: Option<Production>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predict: Option<PredictSpec>,
}

/// An asset instance: a type placed in a line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Asset {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_id: String,
    pub site: String,
    pub area: String,
    pub line: String,
    /// Position in the plant layout, metres (x, y, z; z up): from the plant file, or the automatic layout
    /// (the line's origin + [`AUTO_ASSET_SPACING_M`] × its index in the line along x).
    pub position: [f64; 3],
    pub params: BTreeMap<String, f64>,
    pub components: Vec<Component>,
    pub signals: Vec<Signal>,
    pub running: Option<RunningRule>,
    pub production: Option<Production>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predict: Option<PredictSpec>,
}

impl Asset {
    pub fn signal(&self, name: &str) -> Option<&Signal> {
        self.signals.iter().find(|s| s.name == name)
    }
    pub fn signal_index(&self, name: &str) -> Option<usize> {
        self.signals.iter().position(|s| s.name == name)
    }
    /// A parameter of the asset (instance value, else type default).
    pub fn param(&self, name: &str) -> Option<f64> {
        self.params.get(name).copied()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub id: String,
    pub name: String,
    pub products: Vec<String>,
    /// The asset whose production counters count the line's output (for line OEE).
    pub output: Option<String>,
    pub assets: Vec<String>,
    /// Origin of the line in the plant layout, metres (x, y, z; z up): from the plant file, or the automatic
    /// layout (the line's index in the plant × [`AUTO_LINE_SPACING_M`] along y).
    pub position: [f64; 3],
}

/// Distance between two lines placed by the automatic layout (along y), metres.
pub const AUTO_LINE_SPACING_M: f64 = 10.0;
/// Distance between two assets of a line placed by the automatic layout (along x), metres.
pub const AUTO_ASSET_SPACING_M: f64 = 3.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Area {
    pub id: String,
    pub name: String,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub timezone: String,
    /// Asset whose signals give the site's ambient conditions.
    pub ambient_asset: Option<String>,
    pub areas: Vec<Area>,
}

/// A validated plant model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plant {
    pub enterprise: String,
    pub sites: Vec<Site>,
    pub asset_types: BTreeMap<String, AssetType>,
    pub assets: Vec<Asset>,
    #[serde(skip)]
    asset_index: HashMap<String, usize>,
    #[serde(skip)]
    line_index: HashMap<String, (usize, usize, usize)>,
}

impl Plant {
    /// Reads and validates a plant file.
    pub fn load(path: &Path) -> Result<Plant, PlantError> {
        let text = std::fs::read_to_string(path).map_err(|e| PlantError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Plant::parse(&text, &path.display().to_string())
    }

    /// Parses and validates plant file text; `file` names the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<Plant, PlantError> {
        let raw: RawPlant = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            PlantError::Invalid(vec![Diagnostic {
                file: file.to_string(),
                line,
                column,
                field: String::new(),
                message: e.message().to_string(),
            }])
        })?;
        let mut v = Validator {
            text,
            file,
            diagnostics: Vec::new(),
        };
        let plant = v.plant(raw);
        if v.diagnostics.is_empty() {
            Ok(plant)
        } else {
            Err(PlantError::Invalid(v.diagnostics))
        }
    }

    pub fn asset(&self, id: &str) -> Option<&Asset> {
        self.asset_index.get(id).map(|&i| &self.assets[i])
    }

    pub fn asset_position(&self, id: &str) -> Option<usize> {
        self.asset_index.get(id).copied()
    }

    pub fn line(&self, id: &str) -> Option<&Line> {
        self.line_index.get(id).map(|&(s, a, l)| &self.sites[s].areas[a].lines[l])
    }

    pub fn lines(&self) -> impl Iterator<Item = (&Site, &Area, &Line)> {
        self.sites
            .iter()
            .flat_map(|s| s.areas.iter().flat_map(move |a| a.lines.iter().map(move |l| (s, a, l))))
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// The store key of a signal series: `asset/signal`.
    pub fn series_key(asset: &str, signal: &str) -> String {
        format!("{asset}/{signal}")
    }
}

/// One validation finding, located in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when unknown.
    pub line: usize,
    pub column: usize,
    /// Dotted path of the offending field.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlantError {
    #[error("cannot read plant file {path}: {message}")]
    Io { path: String, message: String },
    #[error("invalid plant file:\n{}", .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

impl PlantError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PlantError::Invalid(d) => d,
            PlantError::Io { .. } => &[],
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map(|p| offset - p).unwrap_or(offset + 1);
    (line, column)
}

// ---------------------------------------------------------------------------------------------
// Raw, span-carrying structures (what serde reads).

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlant {
    enterprise: S<String>,
    #[serde(default)]
    asset_types: BTreeMap<S<String>, RawAssetType>,
    #[serde(default)]
    sites: BTreeMap<S<String>, RawSite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssetType {
    #[serde(default)]
    description: String,
    #[serde(default)]
    params: BTreeMap<String, f64>,
    #[serde(default)]
    components: Vec<RawComponent>,
    #[serde(default)]
    signals: BTreeMap<S<String>, RawSignal>,
    running_when: Option<S<RawRunning>>,
    production: Option<S<RawProduction>>,
    predict: Option<S<RawPredict>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPredict {
    inputs: Vec<S<String>>,
    #[serde(default)]
    settings: Vec<S<String>>,
    step_s: Option<S<f64>>,
    horizon_h: Option<S<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    id: S<String>,
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    params: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunning {
    signal: S<String>,
    above: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduction {
    total: S<String>,
    scrap: Option<S<String>>,
    ideal_cycle_s: S<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignal {
    unit: S<String>,
    kind: SignalKind,
    rate_hz: S<f64>,
    #[serde(default)]
    description: String,
    component: Option<S<String>>,
    #[serde(default)]
    states: Vec<String>,
    valid: Option<S<[f64; 2]>>,
    envelope: Option<S<RawEnvelope>>,
    #[serde(default)]
    envelope_when: Vec<S<RawConditionalEnvelope>>,
    /// Computed by doppel rather than measured: "physics_residual".
    computed: Option<S<String>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    normal: [f64; 2],
    warning: [f64; 2],
    hysteresis: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConditionalEnvelope {
    mode: Option<String>,
    product: Option<String>,
    normal: [f64; 2],
    warning: [f64; 2],
    hysteresis: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    name: String,
    #[serde(default = "default_tz")]
    timezone: String,
    ambient_asset: Option<S<String>>,
    #[serde(default)]
    areas: BTreeMap<S<String>, RawArea>,
}

fn default_tz() -> String {
    "UTC".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArea {
    name: String,
    #[serde(default)]
    lines: BTreeMap<S<String>, RawLine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    name: String,
    #[serde(default)]
    products: Vec<String>,
    output: Option<S<String>>,
    position: Option<S<[f64; 3]>>,
    #[serde(default)]
    assets: Vec<RawAsset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    id: S<String>,
    #[serde(rename = "type")]
    type_id: S<String>,
    name: Option<String>,
    position: Option<S<[f64; 3]>>,
    #[serde(default)]
    params: BTreeMap<String, f64>,
    #[serde(default)]
    components: Vec<RawComponent>,
}

// ---------------------------------------------------------------------------------------------
// Validation.

struct Validator<'a> {
    text: &'a str,
    file: &'a str,
    diagnostics: Vec<Diagnostic>,
}

/// 2 % of the normal range's width; for a one-sided envelope (an infinite end), 2 % of the largest
/// finite limit's magnitude, so `normal = [-inf, 2.8]` gets 0.056 and `[-inf, 120]` gets 2.4.
pub fn default_hysteresis(normal: &Range, warning: &Range) -> f64 {
    let width = normal.high - normal.low;
    if width.is_finite() && width > 0.0 {
        return 0.02 * width;
    }
    let largest = [normal.low, normal.high, warning.low, warning.high]
        .into_iter()
        .filter(|v| v.is_finite())
        .map(f64::abs)
        .fold(0.0, f64::max);
    0.02 * largest
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Validator<'_> {
    fn error(&mut self, span: ByteRange<usize>, field: impl Into<String>, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.diagnostics.push(Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        });
    }

    /// A layout position from the plant file (finite metres), or None when absent or invalid (reported).
    fn position(&mut self, p: Option<&S<[f64; 3]>>, field: &str) -> Option<[f64; 3]> {
        let p = p?;
        if p.get_ref().iter().all(|v| v.is_finite()) {
            Some(*p.get_ref())
        } else {
            self.error(p.span(), field, "position must be three finite numbers [x, y, z] in metres");
            None
        }
    }

    fn check_id(&mut self, id: &S<String>, field: &str) {
        if !valid_id(id.get_ref()) {
            self.error(
                id.span(),
                field,
                format!("'{}' is not a valid id: use 1-64 ASCII letters, digits, '_' or '-'", id.get_ref()),
            );
        }
    }

    fn plant(&mut self, raw: RawPlant) -> Plant {
        if raw.enterprise.get_ref().trim().is_empty() {
            self.error(raw.enterprise.span(), "enterprise", "must not be empty");
        }
        let mut types = BTreeMap::new();
        for (id, t) in raw.asset_types {
            self.check_id(&id, &format!("asset_types.{}", id.get_ref()));
            let ty = self.asset_type(id.get_ref(), t);
            types.insert(id.into_inner(), ty);
        }
        if raw.sites.is_empty() {
            self.error(0..0, "sites", "the plant has no sites: declare at least one [sites.<id>]");
        }
        let mut sites = Vec::new();
        let mut assets: Vec<Asset> = Vec::new();
        let mut asset_spans: HashMap<String, ByteRange<usize>> = HashMap::new();
        let mut line_ids: HashSet<String> = HashSet::new();
        // Lines in plant order (sites, areas, lines by id), for the automatic layout.
        let mut line_no = 0usize;
        let mut ambient_refs = Vec::new();
        let mut output_refs = Vec::new();
        for (site_id, rs) in raw.sites {
            let sfield = format!("sites.{}", site_id.get_ref());
            self.check_id(&site_id, &sfield);
            let mut areas = Vec::new();
            for (area_id, ra) in rs.areas {
                let afield = format!("{sfield}.areas.{}", area_id.get_ref());
                self.check_id(&area_id, &afield);
                let mut lines = Vec::new();
                for (line_id, rl) in ra.lines {
                    let lfield = format!("{afield}.lines.{}", line_id.get_ref());
                    self.check_id(&line_id, &lfield);
                    if !line_ids.insert(line_id.get_ref().clone()) {
                        self.error(
                            line_id.span(),
                            &lfield,
                            format!("line id '{}' is used twice; line ids must be unique in the plant", line_id.get_ref()),
                        );
                    }
                    let line_position =
                        self.position(rl.position.as_ref(), &format!("{lfield}.position"))
                            .unwrap_or([0.0, AUTO_LINE_SPACING_M * line_no as f64, 0.0]);
                    line_no += 1;
                    let mut member_ids = Vec::new();
                    for (i, ra) in rl.assets.into_iter().enumerate() {
                        let field = format!("{lfield}.assets[{i}]");
                        self.check_id(&ra.id, &format!("{field}.id"));
                        if let Some(prev) = asset_spans.get(ra.id.get_ref()) {
                            let (pl, _) = line_col(self.text, prev.start);
                            self.error(
                                ra.id.span(),
                                format!("{field}.id"),
                                format!("asset id '{}' is already used at line {pl}", ra.id.get_ref()),
                            );
                            continue;
                        }
                        let Some(ty) = types.get(ra.type_id.get_ref()) else {
                            let known: Vec<&str> = types.keys().map(String::as_str).collect();
                            self.error(
                                ra.type_id.span(),
                                format!("{field}.type"),
                                format!("unknown asset type '{}' (known: {})", ra.type_id.get_ref(), known.join(", ")),
                            );
                            continue;
                        };
                        asset_spans.insert(ra.id.get_ref().clone(), ra.id.span());
                        let mut params = ty.params.clone();
                        params.extend(ra.params);
                        let mut components = ty.components.clone();
                        for c in ra.components {
                            if components.iter().any(|k| k.id == *c.id.get_ref()) {
                                self.error(
                                    c.id.span(),
                                    format!("{field}.components"),
                                    format!("component '{}' is already declared by type '{}'", c.id.get_ref(), ty.id),
                                );
                            }
                            components.push(Component {
                                id: c.id.into_inner(),
                                kind: c.kind,
                                description: c.description,
                                params: c.params,
                            });
                        }
                        member_ids.push(ra.id.get_ref().clone());
                        assets.push(Asset {
                            name: ra.name.unwrap_or_else(|| ra.id.get_ref().clone()),
                            id: ra.id.into_inner(),
                            type_id: ty.id.clone(),
                            site: site_id.get_ref().clone(),
                            area: area_id.get_ref().clone(),
                            line: line_id.get_ref().clone(),
                            position: self.position(ra.position.as_ref(), &format!("{field}.position")).unwrap_or([
                                line_position[0] + AUTO_ASSET_SPACING_M * i as f64,
                                line_position[1],
                                line_position[2],
                            ]),
                            params,
                            components,
                            signals: ty.signals.clone(),
                            running: ty.running.clone(),
                            production: ty.production.clone(),
                            predict: ty.predict.clone(),
                        });
                    }
                    if let Some(out) = &rl.output {
                        output_refs.push((out.clone(), format!("{lfield}.output"), line_id.get_ref().clone()));
                    }
                    lines.push(Line {
                        id: line_id.into_inner(),
                        name: rl.name,
                        products: rl.products,
                        output: rl.output.map(Spanned::into_inner),
                        assets: member_ids,
                        position: line_position,
                    });
                }
                areas.push(Area {
                    id: area_id.into_inner(),
                    name: ra.name,
                    lines,
                });
            }
            if let Some(amb) = &rs.ambient_asset {
                ambient_refs.push((amb.clone(), format!("{sfield}.ambient_asset"), site_id.get_ref().clone()));
            }
            sites.push(Site {
                id: site_id.into_inner(),
                name: rs.name,
                timezone: rs.timezone,
                ambient_asset: rs.ambient_asset.map(Spanned::into_inner),
                areas,
            });
        }
        let asset_index: HashMap<String, usize> = assets.iter().enumerate().map(|(i, a)| (a.id.clone(), i)).collect();
        for (r, field, site) in ambient_refs {
            match asset_index.get(r.get_ref()) {
                None => self.error(r.span(), field, format!("ambient asset '{}' is not an asset of the plant", r.get_ref())),
                Some(&i) if assets[i].site != site => self.error(
                    r.span(),
                    field,
                    format!("ambient asset '{}' belongs to site '{}', not '{site}'", r.get_ref(), assets[i].site),
                ),
                Some(_) => {}
            }
        }
        for (r, field, line) in output_refs {
            match asset_index.get(r.get_ref()) {
                Some(&i) if assets[i].line == line && assets[i].production.is_some() => {}
                Some(&i) if assets[i].line != line => self.error(
                    r.span(),
                    field,
                    format!("output asset '{}' is on line '{}', not on this line", r.get_ref(), assets[i].line),
                ),
                Some(_) => self.error(
                    r.span(),
                    field,
                    format!("output asset '{}' has no [production] counters in its type", r.get_ref()),
                ),
                None => self.error(r.span(), field, format!("output asset '{}' is not an asset of this line", r.get_ref())),
            }
        }
        let mut line_index = HashMap::new();
        for (si, s) in sites.iter().enumerate() {
            for (ai, a) in s.areas.iter().enumerate() {
                for (li, l) in a.lines.iter().enumerate() {
                    line_index.insert(l.id.clone(), (si, ai, li));
                }
            }
        }
        Plant {
            enterprise: raw.enterprise.into_inner(),
            sites,
            asset_types: types,
            assets,
            asset_index,
            line_index,
        }
    }

    fn asset_type(&mut self, id: &str, t: RawAssetType) -> AssetType {
        let tfield = format!("asset_types.{id}");
        let mut components = Vec::new();
        for c in t.components {
            self.check_id(&c.id, &format!("{tfield}.components.id"));
            if components.iter().any(|k: &Component| k.id == *c.id.get_ref()) {
                self.error(
                    c.id.span(),
                    format!("{tfield}.components"),
                    format!("component '{}' declared twice", c.id.get_ref()),
                );
            }
            components.push(Component {
                id: c.id.into_inner(),
                kind: c.kind,
                description: c.description,
                params: c.params,
            });
        }
        let mut signals = Vec::new();
        for (name, rs) in t.signals {
            let field = format!("{tfield}.signals.{}", name.get_ref());
            self.check_id(&name, &field);
            if let Some(sig) = self.signal(name.get_ref(), &field, rs, &components) {
                signals.push(sig);
            }
        }
        if signals.is_empty() {
            self.error(0..0, &tfield, "an asset type needs at least one signal");
        }
        add_waveform_features(&mut signals);
        let running = t.running_when.map(|r| {
            let span = r.span();
            let r = r.into_inner();
            if !signals.iter().any(|s| s.name == *r.signal.get_ref()) {
                self.error(
                    r.signal.span(),
                    format!("{tfield}.running_when.signal"),
                    format!("unknown signal '{}'", r.signal.get_ref()),
                );
            }
            let _ = span;
            RunningRule {
                signal: r.signal.into_inner(),
                above: r.above,
            }
        });
        let production = t.production.map(|p| {
            let p = p.into_inner();
            for (sig, f) in std::iter::once((&p.total, "total")).chain(p.scrap.as_ref().map(|s| (s, "scrap"))) {
                match signals.iter().find(|s| s.name == *sig.get_ref()) {
                    Some(s) if s.kind == SignalKind::Counter => {}
                    Some(_) => self.error(
                        sig.span(),
                        format!("{tfield}.production.{f}"),
                        format!("signal '{}' must have kind = \"counter\"", sig.get_ref()),
                    ),
                    None => self.error(sig.span(), format!("{tfield}.production.{f}"), format!("unknown signal '{}'", sig.get_ref())),
                }
            }
            if !(*p.ideal_cycle_s.get_ref() > 0.0 && p.ideal_cycle_s.get_ref().is_finite()) {
                self.error(
                    p.ideal_cycle_s.span(),
                    format!("{tfield}.production.ideal_cycle_s"),
                    "must be a positive number of seconds",
                );
            }
            Production {
                total: p.total.into_inner(),
                scrap: p.scrap.map(Spanned::into_inner),
                ideal_cycle_s: p.ideal_cycle_s.into_inner(),
            }
        });
        let predict = t.predict.map(|p| self.predict_spec(&tfield, p.into_inner(), &mut signals));
        AssetType {
            id: id.to_string(),
            description: t.description,
            params: t.params,
            components,
            signals,
            running,
            production,
            predict,
        }
    }

    /// Checks a `predict` table and adds the prediction output signals (unless declared).
    fn predict_spec(&mut self, tfield: &str, p: RawPredict, signals: &mut Vec<Signal>) -> PredictSpec {
        let field = format!("{tfield}.predict");
        let check = |list: &[S<String>], what: &str, this: &mut Self| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for n in list {
                match signals.iter().find(|s| s.name == *n.get_ref()) {
                    Some(s) if s.kind == SignalKind::Process && s.derived_from.as_deref() != Some(PREDICTION) => {}
                    Some(_) => this.error(
                        n.span(),
                        format!("{field}.{what}"),
                        format!("signal '{}' must be a measured process signal", n.get_ref()),
                    ),
                    None => this.error(n.span(), format!("{field}.{what}"), format!("unknown signal '{}'", n.get_ref())),
                }
                if out.contains(n.get_ref()) {
                    this.error(n.span(), format!("{field}.{what}"), format!("signal '{}' listed twice", n.get_ref()));
                }
                out.push(n.get_ref().clone());
            }
            out
        };
        let inputs = check(&p.inputs, "inputs", self);
        let settings = check(&p.settings, "settings", self);
        if inputs.is_empty() {
            self.error(0..0, format!("{field}.inputs"), "the models need at least one input signal");
        }
        let positive = |v: Option<S<f64>>, default: f64, name: &str, this: &mut Self| -> f64 {
            match v {
                None => default,
                Some(v) if *v.get_ref() > 0.0 && v.get_ref().is_finite() => *v.get_ref(),
                Some(v) => {
                    this.error(v.span(), format!("{field}.{name}"), "must be a positive number");
                    default
                }
            }
        };
        let step_s = positive(p.step_s, 60.0, "step_s", self);
        let horizon_s = positive(p.horizon_h, 72.0, "horizon_h", self) * 3600.0;
        for (name, unit, description, envelope) in PREDICTION_SIGNALS {
            if let Some(declared) = signals.iter_mut().find(|s| s.name == name) {
                declared.derived_from = Some(PREDICTION.into());
                continue;
            }
            let mut envelopes = EnvelopeSet::default();
            if let Some((normal, warning)) = envelope {
                envelopes.default = Some(Envelope {
                    normal: Range {
                        low: f64::NEG_INFINITY,
                        high: normal,
                    },
                    warning: Range {
                        low: f64::NEG_INFINITY,
                        high: warning,
                    },
                    hysteresis: normal * 0.05,
                });
            }
            let unit = match units::lookup(unit) {
                Ok(u) => u,
                Err(e) => {
                    self.error(0..0, &field, e.to_string());
                    continue;
                }
            };
            signals.push(Signal {
                name: name.into(),
                unit,
                kind: SignalKind::Process,
                rate_hz: 1.0 / step_s,
                description: description.into(),
                component: None,
                states: Vec::new(),
                valid: Range {
                    low: f64::NEG_INFINITY,
                    high: f64::INFINITY,
                },
                envelopes,
                derived_from: Some(PREDICTION.into()),
            });
        }
        PredictSpec {
            inputs,
            settings,
            step_s,
            horizon_s,
        }
    }

    fn signal(&mut self, name: &str, field: &str, rs: RawSignal, components: &[Component]) -> Option<Signal> {
        let unit = match units::lookup(rs.unit.get_ref()) {
            Ok(u) => u,
            Err(e) => {
                self.error(rs.unit.span(), format!("{field}.unit"), e.to_string());
                return None;
            }
        };
        let rate = *rs.rate_hz.get_ref();
        if !(rate > 0.0 && rate <= 1_000_000.0) {
            self.error(
                rs.rate_hz.span(),
                format!("{field}.rate_hz"),
                format!("{rate} is not a sampling rate: use a value in (0, 1000000] Hz"),
            );
        }
        match rs.kind {
            SignalKind::State => {
                if rs.states.is_empty() {
                    self.error(
                        rs.unit.span(),
                        format!("{field}.states"),
                        "a state signal needs its list of states, e.g. states = [\"stopped\", \"running\"]",
                    );
                }
                if unit.dimension != Dimension::State {
                    self.error(rs.unit.span(), format!("{field}.unit"), "a state signal must have unit = \"state\"");
                }
            }
            SignalKind::Counter if !matches!(unit.dimension, Dimension::Count | Dimension::Energy | Dimension::Volume | Dimension::Mass) => {
                self.error(
                    rs.unit.span(),
                    format!("{field}.unit"),
                    format!("a counter must count something (count, energy, volume or mass), not {}", unit.dimension),
                );
            }
            _ if !rs.states.is_empty() => self.error(rs.unit.span(), format!("{field}.states"), "only kind = \"state\" signals have states"),
            _ => {}
        }
        if let Some(c) = &rs.component
            && !components.iter().any(|k| k.id == *c.get_ref())
        {
            self.error(c.span(), format!("{field}.component"), format!("unknown component '{}'", c.get_ref()));
        }
        let valid = match &rs.valid {
            Some(v) => {
                let [lo, hi] = *v.get_ref();
                if lo.is_nan() || hi.is_nan() || lo >= hi {
                    self.error(v.span(), format!("{field}.valid"), "must be [low, high] with low < high");
                }
                Range { low: lo, high: hi }
            }
            None => Range {
                low: f64::NEG_INFINITY,
                high: f64::INFINITY,
            },
        };
        let derived_from = match &rs.computed {
            None => None,
            Some(c) if c.get_ref() == "physics_residual" => {
                if rs.kind != SignalKind::Process {
                    self.error(
                        c.span(),
                        format!("{field}.computed"),
                        "a physics residual is a process signal (kind = \"process\")",
                    );
                }
                Some(c.get_ref().clone())
            }
            Some(c) => {
                self.error(
                    c.span(),
                    format!("{field}.computed"),
                    format!("unknown computation '{}': the only one is \"physics_residual\"", c.get_ref()),
                );
                None
            }
        };
        let mut envelopes = EnvelopeSet::default();
        if let Some(e) = &rs.envelope {
            let r = *e.get_ref();
            envelopes.default = self.envelope(e.span(), &format!("{field}.envelope"), r.normal, r.warning, r.hysteresis);
        }
        for (i, c) in rs.envelope_when.iter().enumerate() {
            let f = format!("{field}.envelope_when[{i}]");
            let ce = c.get_ref();
            if ce.mode.is_none() && ce.product.is_none() {
                self.error(
                    c.span(),
                    &f,
                    "a conditional envelope needs `mode` or `product` (use `envelope` for the default)",
                );
            }
            if let Some(env) = self.envelope(c.span(), &f, ce.normal, ce.warning, ce.hysteresis) {
                envelopes.conditional.push((
                    Selector {
                        mode: ce.mode.clone(),
                        product: ce.product.clone(),
                    },
                    env,
                ));
            }
        }
        Some(Signal {
            name: name.to_string(),
            unit,
            kind: rs.kind,
            rate_hz: rate,
            description: rs.description,
            component: rs.component.map(Spanned::into_inner),
            states: rs.states,
            valid,
            envelopes,
            derived_from,
        })
    }

    fn envelope(&mut self, span: ByteRange<usize>, field: &str, normal: [f64; 2], warning: [f64; 2], hysteresis: Option<f64>) -> Option<Envelope> {
        let normal = Range {
            low: normal[0],
            high: normal[1],
        };
        let warning = Range {
            low: warning[0],
            high: warning[1],
        };
        let mut ok = true;
        for (r, name) in [(normal, "normal"), (warning, "warning")] {
            if r.low.is_nan() || r.high.is_nan() || r.low > r.high {
                self.error(
                    span.clone(),
                    format!("{field}.{name}"),
                    format!(
                        "[{}, {}] is not a range: use [low, high] with low <= high (-inf / inf for open ends)",
                        r.low, r.high
                    ),
                );
                ok = false;
            }
        }
        if ok && !warning.contains_range(&normal) {
            self.error(
                span.clone(),
                format!("{field}.warning"),
                "the warning range must contain the normal range (alarm is outside warning)",
            );
            ok = false;
        }
        let h = hysteresis.unwrap_or_else(|| default_hysteresis(&normal, &warning));
        if !(h >= 0.0 && h.is_finite()) {
            self.error(span, format!("{field}.hysteresis"), "must be a finite number >= 0");
            ok = false;
        }
        ok.then_some(Envelope {
            normal,
            warning,
            hysteresis: h,
        })
    }
}

/// The features computed from every frame of a waveform signal `w` and stored as ordinary signals named
/// `{w}_{suffix}`: (suffix, unit — `None` = the waveform's own unit, description).
pub const WAVEFORM_FEATURES: [(&str, Option<&str>, &str); 8] = [
    ("rms", None, "RMS of each frame (mean removed)"),
    ("peak", None, "largest absolute deviation from the mean in each frame"),
    ("crest", Some("1"), "crest factor (peak / RMS) of each frame"),
    ("kurtosis", Some("1"), "kurtosis of each frame (3 for Gaussian noise; impacts raise it)"),
    ("skewness", Some("1"), "skewness of each frame"),
    (
        "velocity",
        Some("mm/s"),
        "broadband velocity RMS 10–1000 Hz (ISO 10816-3) integrated from each frame",
    ),
    ("envelope", None, "mean envelope in the demodulation band chosen by spectral kurtosis"),
    ("fault", Some("state"), "diagnosed fault (confirmed over several frames)"),
];

/// Labels of the `{w}_fault` state signal, by value.
pub const FAULT_STATES: [&str; 7] = ["normal", "outer_race", "inner_race", "ball", "cage", "unbalance", "misalignment"];

/// Adds the derived feature signals of every acceleration waveform signal (see [`WAVEFORM_FEATURES`]) unless the
/// plant file declares a signal of that name itself (then its declaration — e.g. with an envelope — is kept).
fn add_waveform_features(signals: &mut Vec<Signal>) {
    let waves: Vec<Signal> = signals
        .iter()
        .filter(|s| s.kind == SignalKind::Waveform && s.unit.dimension == Dimension::Acceleration)
        .cloned()
        .collect();
    for w in waves {
        for (suffix, unit, description) in WAVEFORM_FEATURES {
            let name = format!("{}_{suffix}", w.name);
            if let Some(declared) = signals.iter_mut().find(|s| s.name == name) {
                declared.derived_from = Some(w.name.clone());
                continue;
            }
            let unit = match unit {
                Some(u) => units::lookup(u).unwrap_or(w.unit),
                None => w.unit,
            };
            let state = suffix == "fault";
            let mut envelopes = EnvelopeSet::default();
            if state {
                // Any diagnosed fault is an alarm (value > 0 = not "normal").
                let r = Range {
                    low: f64::NEG_INFINITY,
                    high: 0.5,
                };
                envelopes.default = Some(Envelope {
                    normal: r,
                    warning: r,
                    hysteresis: 0.0,
                });
            }
            signals.push(Signal {
                name,
                unit,
                kind: if state { SignalKind::State } else { SignalKind::Process },
                // Frames arrive at the device's cadence; one a minute is typical.
                rate_hz: 1.0 / 60.0,
                description: format!("{} of {}", description, w.name),
                component: w.component.clone(),
                states: if state {
                    FAULT_STATES.iter().map(|s| s.to_string()).collect()
                } else {
                    Vec::new()
                },
                valid: Range {
                    low: f64::NEG_INFINITY,
                    high: f64::INFINITY,
                },
                envelopes,
                derived_from: Some(w.name.clone()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
enterprise = "Acme"

[asset_types.motor]
params = { rated_power_kw = 11.0 }
components = [{ id = "de_bearing", kind = "bearing" }]
running_when = { signal = "speed", above = 10.0 }

[asset_types.motor.signals.speed]
unit = "rpm"
kind = "process"
rate_hz = 1

[asset_types.motor.signals.winding_temp]
unit = "°C"
kind = "process"
rate_hz = 1
envelope = { normal = [-inf, 100], warning = [-inf, 120] }
envelope_when = [{ mode = "boost", normal = [-inf, 110], warning = [-inf, 125] }]

[asset_types.motor.signals.parts]
unit = "count"
kind = "counter"
rate_hz = 1

[asset_types.motor.production]
total = "parts"
ideal_cycle_s = 10

[sites.s1]
name = "Site"

[sites.s1.areas.a1]
name = "Area"

[sites.s1.areas.a1.lines.l1]
name = "Line"
output = "m1"
assets = [
  { id = "m1", type = "motor", params = { rated_power_kw = 15.0 } },
  { id = "m2", type = "motor" },
]
"#;

    #[test]
    fn parses_and_instantiates_types() {
        let p = Plant::parse(MINI, "mini.toml").unwrap();
        assert_eq!(p.assets.len(), 2);
        let m1 = p.asset("m1").unwrap();
        assert_eq!(m1.param("rated_power_kw"), Some(15.0));
        assert_eq!(p.asset("m2").unwrap().param("rated_power_kw"), Some(11.0));
        assert_eq!(m1.signal("winding_temp").unwrap().unit.symbol, "degC");
        assert_eq!(m1.line, "l1");
        assert_eq!(p.line("l1").unwrap().assets, vec!["m1", "m2"]);
        let env = &m1.signal("winding_temp").unwrap().envelopes;
        assert_eq!(env.select(Some("boost"), None).unwrap().normal.high, 110.0);
    }

    fn first_error(text: &str) -> Diagnostic {
        Plant::parse(text, "bad.toml").unwrap_err().diagnostics()[0].clone()
    }

    #[test]
    fn unknown_unit_names_line_and_field() {
        let bad = MINI.replace("unit = \"rpm\"", "unit = \"rmp\"");
        let d = first_error(&bad);
        assert_eq!(d.field, "asset_types.motor.signals.speed.unit");
        assert_eq!(d.line, 10);
        assert!(d.message.contains("did you mean 'rpm'"), "{}", d.message);
        assert!(d.to_string().starts_with("bad.toml:10:"), "{d}");
    }

    #[test]
    fn unknown_type_and_duplicate_asset_are_reported() {
        let bad = MINI.replace(
            "{ id = \"m2\", type = \"motor\" }",
            "{ id = \"m1\", type = \"motor\" },\n  { id = \"m3\", type = \"pump\" }",
        );
        let err = Plant::parse(&bad, "bad.toml").unwrap_err();
        let msgs: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
        assert!(msgs.iter().any(|m| m.contains("asset id 'm1' is already used at line")), "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m.contains("unknown asset type 'pump'") && m.contains(".assets[2].type")),
            "{msgs:?}"
        );
    }

    #[test]
    fn syntax_errors_and_unknown_fields_have_locations() {
        let d = first_error("enterprise = \"x\"\n[sites.a]\nname = \n");
        assert_eq!(d.line, 3);
        let d = first_error(&MINI.replace("rate_hz = 1\nenvelope", "rate_hz = 1\ncolour = \"red\"\nenvelope"));
        assert!(d.message.contains("colour"), "{}", d.message);
        assert!(d.line > 0);
    }

    #[test]
    fn predict_table_adds_outputs_and_checks_inputs() {
        let with = MINI.replace(
            "running_when = { signal = \"speed\", above = 10.0 }",
            "running_when = { signal = \"speed\", above = 10.0 }\npredict = { inputs = [\"winding_temp\"], settings = [\"speed\"], step_s = 30, horizon_h = 24 }",
        );
        let p = Plant::parse(&with, "p.toml").unwrap();
        let m1 = p.asset("m1").unwrap();
        let spec = m1.predict.as_ref().unwrap();
        assert_eq!(
            (spec.inputs.clone(), spec.settings.clone(), spec.step_s, spec.horizon_s),
            (vec!["winding_temp".to_string()], vec!["speed".to_string()], 30.0, 86_400.0)
        );
        for (name, unit, _, _) in PREDICTION_SIGNALS {
            let s = m1.signal(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(
                (s.unit.symbol, s.derived_from.as_deref()),
                (units::lookup(unit).unwrap().symbol, Some(PREDICTION))
            );
        }
        assert_eq!(m1.signal("failure_probability").unwrap().envelopes.default.unwrap().warning.high, 50.0);
        let bad = with.replace("inputs = [\"winding_temp\"]", "inputs = [\"winding_tmp\"]");
        let d = first_error(&bad);
        assert_eq!(d.field, "asset_types.motor.predict.inputs");
        assert!(d.message.contains("unknown signal 'winding_tmp'"), "{}", d.message);
        let d = first_error(&with.replace("step_s = 30", "step_s = -1"));
        assert_eq!(d.field, "asset_types.motor.predict.step_s");
    }

    #[test]
    fn default_hysteresis_scales_with_the_limits() {
        let r = |low, high| Range { low, high };
        assert!((default_hysteresis(&r(35.0, 75.0), &r(25.0, 85.0)) - 0.8).abs() < 1e-12);
        assert!((default_hysteresis(&r(f64::NEG_INFINITY, 2.8), &r(f64::NEG_INFINITY, 4.5)) - 0.09).abs() < 1e-12);
        assert!((default_hysteresis(&r(f64::NEG_INFINITY, 120.0), &r(f64::NEG_INFINITY, 140.0)) - 2.8).abs() < 1e-12);
    }

    #[test]
    fn envelope_must_nest() {
        let bad = MINI.replace("warning = [-inf, 120]", "warning = [-inf, 90]");
        let d = first_error(&bad);
        assert_eq!(d.field, "asset_types.motor.signals.winding_temp.envelope.warning");
    }

    #[test]
    fn positions_come_from_the_file_or_the_automatic_layout() {
        // No positions at all: line k at y = 10 k m, its assets 3 m apart along x.
        let second_line =
            "\n[sites.s1.areas.a1.lines.l2]\nname = \"Line 2\"\nassets = [{ id = \"m3\", type = \"motor\" }, { id = \"m4\", type = \"motor\" }]\n";
        let p = Plant::parse(&format!("{MINI}{second_line}"), "auto.toml").unwrap();
        assert_eq!(p.line("l1").unwrap().position, [0.0, 0.0, 0.0]);
        assert_eq!(p.line("l2").unwrap().position, [0.0, AUTO_LINE_SPACING_M, 0.0]);
        assert_eq!(p.asset("m2").unwrap().position, [AUTO_ASSET_SPACING_M, 0.0, 0.0]);
        assert_eq!(p.asset("m4").unwrap().position, [AUTO_ASSET_SPACING_M, AUTO_LINE_SPACING_M, 0.0]);
        // A line origin moves its automatically placed assets; an asset's own position is absolute.
        let placed = MINI.replace("output = \"m1\"", "output = \"m1\"\nposition = [5.0, 20.0, 1.0]").replace(
            "{ id = \"m2\", type = \"motor\" }",
            "{ id = \"m2\", type = \"motor\", position = [40.0, 2.5, 0.0] }",
        );
        let p = Plant::parse(&placed, "placed.toml").unwrap();
        assert_eq!(p.line("l1").unwrap().position, [5.0, 20.0, 1.0]);
        assert_eq!(p.asset("m1").unwrap().position, [5.0, 20.0, 1.0]);
        assert_eq!(p.asset("m2").unwrap().position, [40.0, 2.5, 0.0]);
        // Positions are finite metres.
        let d = first_error(&MINI.replace(
            "{ id = \"m2\", type = \"motor\" }",
            "{ id = \"m2\", type = \"motor\", position = [1.0, nan, 0.0] }",
        ));
        assert_eq!(d.field, "sites.s1.areas.a1.lines.l1.assets[1].position");
        assert!(d.message.contains("finite"), "{}", d.message);
        let d = first_error(&MINI.replace("output = \"m1\"", "output = \"m1\"\nposition = [inf, 0.0, 0.0]"));
        assert_eq!(d.field, "sites.s1.areas.a1.lines.l1.position");
    }

    #[test]
    fn the_example_plant_places_every_asset_and_line() {
        let p = Plant::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plants/example.toml")).unwrap();
        let mut seen = HashSet::new();
        for a in &p.assets {
            assert!(seen.insert(a.position.map(f64::to_bits)), "{} shares its position with another asset", a.id);
        }
        let origins: HashSet<_> = p.lines().map(|(_, _, l)| l.position.map(f64::to_bits)).collect();
        assert_eq!(origins.len(), p.lines().count(), "every line has its own origin");
    }
}
