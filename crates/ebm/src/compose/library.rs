//! Concept checkpoints loaded for composition: `name=path` pairs from the
//! command line (or a demo), each possibly from a different training run.

use super::algebra::Composed;
use super::expr::parse;
use super::marginal::Marginalise;
use super::resolve::{resolve, ConceptModel, Settings};
use crate::checkpoint::{load_checkpoint_on, LoadedModel};
use crate::energy::ConceptSchema;
use crate::sample::SamplerDefaults;
use anyhow::{bail, Result};
use std::path::PathBuf;

pub struct LoadedConcept {
    /// The name expressions use: the one given on the command line, else the card's.
    pub name: String,
    pub path: PathBuf,
    pub model: LoadedModel,
}

pub struct ConceptLibrary {
    pub concepts: Vec<LoadedConcept>,
}

impl ConceptLibrary {
    /// Loads `name=path` (or bare `path`: the card's concept name) checkpoints.
    pub fn load(specs: &[String]) -> Result<Self> {
        Self::load_on(specs, tch::Device::Cpu)
    }

    /// [`ConceptLibrary::load`] with every model on `device`.
    pub fn load_on(specs: &[String], device: tch::Device) -> Result<Self> {
        if specs.is_empty() {
            bail!("no models given; pass --model name=path for each concept, e.g. --model color=models/color.safetensors");
        }
        let mut concepts: Vec<LoadedConcept> = Vec::new();
        for spec in specs {
            let (name, path) = match spec.split_once('=') {
                Some((name, path)) if !name.is_empty() && !name.contains(['/', '.']) => (Some(name.to_string()), PathBuf::from(path)),
                _ => (None, PathBuf::from(spec)),
            };
            let model = load_checkpoint_on(&path, device)?;
            let Some(schema) = &model.card.concept else {
                bail!(
                    "{} is an unconditional model; expressions combine concept models (trained with a concept, e.g. `ebm train shapes --concept color`)",
                    path.display()
                );
            };
            let name = name.unwrap_or_else(|| schema.name.clone());
            if let Some(other) = concepts.iter().find(|c| crate::names::same_name(&c.name, &name)) {
                bail!(
                    "two models are named '{name}' ({} and {}); give one another name with --model other={}",
                    other.path.display(),
                    path.display(),
                    path.display()
                );
            }
            if let Some(first) = concepts.first() {
                let (a, b) = (first.model.card.architecture.input_shape(), model.card.architecture.input_shape());
                if a != b {
                    bail!(
                        "{} takes inputs of shape {b:?} but {} takes {a:?}; composed models must see the same data",
                        path.display(),
                        first.path.display()
                    );
                }
            }
            concepts.push(LoadedConcept { name, path, model });
        }
        Ok(Self { concepts })
    }

    /// The models as the resolver sees them, each under its command-line name.
    pub fn concept_models(&self) -> Vec<ConceptModel<'_>> {
        self.concepts
            .iter()
            .map(|c| ConceptModel {
                schema: ConceptSchema {
                    name: c.name.clone(),
                    kind: c.model.card.concept.clone().expect("checked at load").kind,
                },
                energy: c.model.network.as_ref(),
                trained_with: None,
            })
            .collect()
    }

    /// The models whose concepts an expression that omits them marginalises
    /// ([`super::marginal`]). `On`: every model, in every branch that omits
    /// it. `Auto`: the models a product names (members and frozen partners),
    /// each joining a branch only when a model the branch names was trained
    /// with it — p(x | pos) of a pos model trained beside colour sums over
    /// colour, but not over a size model trained later beside it.
    pub fn marginal_partners(&self, mode: Marginalise) -> Vec<ConceptModel<'_>> {
        let product_of = |c: &LoadedConcept| -> Vec<String> {
            c.model.card.training[crate::train::state::PRODUCT_OF]
                .as_array()
                .map(|members| members.iter().filter_map(|m| m.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        let named: Vec<String> = self.concepts.iter().flat_map(product_of).collect();
        let in_a_product = |c: &LoadedConcept| {
            let concept = c.model.card.concept.as_ref().map_or(c.name.as_str(), |s| s.name.as_str());
            !product_of(c).is_empty() || named.iter().any(|n| crate::names::same_name(n, concept))
        };
        self.concept_models()
            .into_iter()
            .zip(&self.concepts)
            .filter_map(|(m, c)| match mode {
                Marginalise::On => Some(m),
                Marginalise::Off => None,
                Marginalise::Auto => in_a_product(c).then(|| ConceptModel {
                    trained_with: Some(product_of(c)),
                    ..m
                }),
            })
            .collect()
    }

    /// Sampler settings of the first model (where fresh chains start, step, noise).
    pub fn sampler(&self) -> SamplerDefaults {
        self.concepts[0].model.card.sampler.clone()
    }

    /// The widest noise range over the models trained over noise levels.
    pub fn noise_range(&self) -> Option<(f64, f64)> {
        self.concepts
            .iter()
            .filter_map(|c| c.model.network.noise_range())
            .reduce(|(lo, hi), (l, h)| (lo.min(l), hi.max(h)))
    }

    /// Null-code guidance ([`super::algebra::null_guided`]) reads each
    /// model's unconditional energy off its null code, which only models
    /// trained with code dropout have learned.
    /// Checks the models named in `used` (all when None).
    pub fn check_null_codes(&self, used: Option<&[&str]>) -> Result<()> {
        let checked = |name: &str| used.is_none_or(|u| u.contains(&name));
        for c in self.concepts.iter().filter(|c| checked(&c.name)) {
            let dropout = c.model.card.training["code_dropout"].as_f64().unwrap_or(0.0);
            if dropout <= 0.0 {
                bail!(
                    "{} was trained without code dropout, so its null code means nothing; guidance without --prior needs models trained with --code-dropout (e.g. 0.2)",
                    c.path.display()
                );
            }
        }
        Ok(())
    }

    pub fn input_shape(&self) -> Vec<i64> {
        self.concepts[0].model.card.architecture.input_shape()
    }
}

/// Parses and resolves `text` against `models`; errors carry the caret display.
pub fn compose<'a>(text: &str, models: &[ConceptModel<'a>], settings: &Settings) -> Result<Composed<'a>> {
    let expr = parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    resolve(text, &expr, models, settings).map_err(|e| anyhow::anyhow!("{e}"))
}
