//! Checking a component against the host without running it: it is a component, it compiles,
//! its `platform:migrate` version is one the host loads, its exports make one plugin world,
//! every import is something the host provides, and every export has the world's type.
//! `plugin check`, `plugin inspect` and every run's plugin loading go through here.

use super::shape::{Shape, World};
use super::{bindings, versions, PluginError, Sandbox};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;

/// A component that passed every check.
pub struct Examined {
    pub world: World,
    /// The supported WIT version it loads as.
    pub wit_version: String,
    pub shape: Shape,
    pub sha256: String,
    pub size: u64,
}

/// Top-level import and export names of a compiled component.
pub fn shape_of(sandbox: &Sandbox, component: &Component) -> Shape {
    let ty = component.component_type();
    let engine = &sandbox.engine;
    Shape {
        imports: ty.imports(engine).map(|(n, _)| n.to_string()).collect(),
        exports: ty
            .exports(engine)
            .filter(|(_, item)| !matches!(item.ty, ComponentItem::Type(_)))
            .map(|(n, _)| n.to_string())
            .collect(),
    }
}

impl Sandbox {
    /// Every check short of running: header, compile, version, world, imports, export types.
    /// `want` names the world the caller needs; `None` accepts any of the three.
    pub fn examine(
        &self,
        name: &str,
        path: &std::path::Path,
        bytes: &[u8],
        want: Option<World>,
    ) -> Result<Examined, PluginError> {
        let shown = path.display().to_string();
        let sha256 = super::cache::sha256_hex(bytes);
        let component = self.compile_checked(name, &shown, bytes, &sha256)?;
        let (shape, world, wit_version) = self.conforms(name, &shown, &component, want)?;
        let pre = self
            .instance_pre(&sha256, &component)
            .map_err(|e| PluginError::Imports {
                plugin: name.to_string(),
                message: format!("{e:#}"),
            })?;
        bindings::check_world(world, wit_version, pre).map_err(|e| PluginError::WrongWorld {
            plugin: name.to_string(),
            world: world.wit_name(),
            message: format!("an export does not have the world's type: {e:#}"),
        })?;
        Ok(Examined {
            world,
            wit_version: wit_version.to_string(),
            shape,
            sha256,
            size: bytes.len() as u64,
        })
    }

    /// The checks every load makes before linking: the component's shape, the world it
    /// implements (which must be `want` when given; a plugin of another world gets a message
    /// naming what it is instead of wasmtime's first missing export), and the supported WIT
    /// version it loads as.
    pub(super) fn conforms(
        &self,
        name: &str,
        path: &str,
        component: &Component,
        want: Option<World>,
    ) -> Result<(Shape, World, versions::Wit), PluginError> {
        let shape = shape_of(self, component);
        let world = self.check_world(name, &shape, want)?;
        let version = self.check_version(name, path, &shape)?;
        Ok((shape, world, version))
    }

    /// The supported WIT version the component loads as, or a refusal naming both versions.
    fn check_version(
        &self,
        name: &str,
        path: &str,
        shape: &Shape,
    ) -> Result<versions::Wit, PluginError> {
        shape
            .wit_version()
            .and_then(|v| {
                versions::Wit::of(&v).ok_or(versions::VersionError::Unsupported { found: v })
            })
            .map_err(|source| PluginError::Version {
                plugin: name.to_string(),
                path: path.to_string(),
                source,
            })
    }

    /// The world the component implements, which must be `want` when given.
    fn check_world(
        &self,
        name: &str,
        shape: &Shape,
        want: Option<World>,
    ) -> Result<World, PluginError> {
        let found = shape.world();
        match (found, want) {
            (Ok(w), None) => Ok(w),
            (Ok(w), Some(want)) if w == want => Ok(w),
            (Ok(w), Some(want)) => Err(PluginError::WrongWorld {
                plugin: name.to_string(),
                world: want.wit_name(),
                message: format!(
                    "it is a {} plugin; name a {} plugin there, or check which entry the environment points at",
                    w.wit_name(),
                    want.wit_name()
                ),
            }),
            (Err(e), Some(want)) => Err(PluginError::WrongWorld {
                plugin: name.to_string(),
                world: want.wit_name(),
                message: e.to_string(),
            }),
            (Err(source), None) => Err(PluginError::NotAPlugin {
                plugin: name.to_string(),
                source,
            }),
        }
    }
}
