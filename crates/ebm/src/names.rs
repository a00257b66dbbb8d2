//! Settings chosen by name (`--pool sum`, `--concept color`): every such enum
//! gets one spelling to print, optional aliases it also accepts (`colour`),
//! and a `FromStr` whose error lists the choices. The command line parses
//! through `FromStr`, so the library needs no argument-parsing crate.

/// An enum whose values have names.
pub trait Named: Sized + Copy + 'static {
    /// Every value, in the order help text lists them.
    const ALL: &'static [Self];
    /// What the setting is called in messages ("pooling", "concept").
    const WHAT: &'static str;
    /// The one printed spelling.
    fn name(self) -> &'static str;
    /// Other spellings accepted on input.
    fn aliases(self) -> &'static [&'static str] {
        &[]
    }
    /// Every printed name, joined for help text and errors.
    fn choices() -> String {
        Self::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
    }
    /// The value called `text` (case-insensitive, `_` read as `-`).
    fn parse_name(text: &str) -> Result<Self, String> {
        let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == wanted || v.aliases().contains(&wanted.as_str()))
            .ok_or_else(|| format!("unknown {} '{text}'; choose {}", Self::WHAT, Self::choices()))
    }
}

/// The one spelling of a concept or judge-head name a user may type two
/// ways: `colour` reads as `color`, `position` as `pos` for concepts. Names
/// are compared after this, case-insensitively.
pub fn same_name(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

/// `name` lower-cased with British spellings read as American.
pub fn canonical(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "colour" => "color".into(),
        _ => lower,
    }
}

/// Implements [`Named`], `FromStr` and `Display` for a fieldless enum:
/// `named!(Pool, "pooling", [Sum => "sum", Mean => "mean"]);`, optionally
/// with aliases: `Color => "color" | "colour"`.
#[macro_export]
macro_rules! named {
    ($ty:ty, $what:literal, [$($variant:ident => $name:literal $(| $alias:literal)*),+ $(,)?]) => {
        impl $crate::names::Named for $ty {
            const ALL: &'static [Self] = &[$(<$ty>::$variant),+];
            const WHAT: &'static str = $what;
            fn name(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name),+
                }
            }
            fn aliases(self) -> &'static [&'static str] {
                match self {
                    $(<$ty>::$variant => &[$($alias),*]),+
                }
            }
        }
        impl $ty {
            /// The printed name (see [`Named`](crate::names::Named)).
            pub fn name(self) -> &'static str {
                <$ty as $crate::names::Named>::name(self)
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                <$ty as $crate::names::Named>::parse_name(text)
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::names::Named::name(*self))
            }
        }
    };
}
