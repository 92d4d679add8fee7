//! Which optional fields a file's writer schema carries.
//!
//! SysFlow grew by appending fields. A record decoded from an old file gets default values for fields its writer
//! schema lacked; [`Layout`] remembers which ones were really there, because the reference tools print `""` for a
//! field the writer schema does not have (and the value otherwise).

/// A field that only some writer schemas carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OptionalField {
    /// `SFHeader.ip` (v2+).
    HeaderIp = 0,
    /// `SFHeader.filename` (v3+).
    HeaderFilename,
    /// `Container.privileged` (missing in prototype Sp1).
    ContainerPrivileged,
    /// `Container.podId` (v4+).
    ContainerPodId,
    /// `Process.tty` (missing in prototype Sp1).
    ProcessTty,
    /// `Process.entry` (v2+).
    ProcessEntry,
    /// `Process.cwd` (v5).
    ProcessCwd,
    /// `Process.env` (v5).
    ProcessEnv,
    /// `NetworkFlow.fd` (missing in early v1 S1n and prototypes).
    NetworkFlowFd,
    /// `FileFlow.openFlags` (missing in prototype Sp2).
    FileFlowOpenFlags,
}

impl OptionalField {
    /// Every optional field.
    pub const ALL: [OptionalField; 10] = [
        OptionalField::HeaderIp,
        OptionalField::HeaderFilename,
        OptionalField::ContainerPrivileged,
        OptionalField::ContainerPodId,
        OptionalField::ProcessTty,
        OptionalField::ProcessEntry,
        OptionalField::ProcessCwd,
        OptionalField::ProcessEnv,
        OptionalField::NetworkFlowFd,
        OptionalField::FileFlowOpenFlags,
    ];
}

/// The set of [`OptionalField`]s a writer schema has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    bits: u32,
}

impl Layout {
    /// The layout of schema v5: every optional field is present.
    pub const V5: Layout = Layout {
        bits: (1 << OptionalField::ALL.len()) - 1,
    };
    /// No optional field present.
    pub const EMPTY: Layout = Layout { bits: 0 };

    /// Whether the writer schema has `field`.
    #[inline]
    pub fn has(&self, field: OptionalField) -> bool {
        self.bits & (1 << field as u8) != 0
    }

    /// Marks `field` as present.
    pub fn insert(&mut self, field: OptionalField) {
        self.bits |= 1 << field as u8;
    }
}

impl Default for Layout {
    fn default() -> Self {
        Layout::V5
    }
}
