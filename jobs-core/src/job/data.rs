//! Shared application data injected into jobs (an RPC client, a database pool, ...).

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Shared application data, registered once on the worker and handed to every job that
/// names it as a parameter. Cheap to clone; derefs to `T`.
///
/// ```
/// use jobs_core::Data;
/// let rpc = Data::new(String::from("rpc-client"));
/// assert_eq!(rpc.len(), 10);
/// ```
pub struct Data<T: ?Sized>(Arc<T>);

impl<T> Data<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Data(Arc::new(value))
    }
}

impl<T: ?Sized> Data<T> {
    /// The shared pointer inside.
    pub fn into_inner(self) -> Arc<T> {
        self.0
    }
}

impl<T: ?Sized> From<Arc<T>> for Data<T> {
    fn from(arc: Arc<T>) -> Self {
        Data(arc)
    }
}

impl<T: ?Sized> Clone for Data<T> {
    fn clone(&self) -> Self {
        Data(self.0.clone())
    }
}

impl<T: ?Sized> Deref for Data<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Data<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Names a type of shared data a job needs; see [`crate::Job::required_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataType {
    id: TypeId,
    name: &'static str,
}

impl DataType {
    /// The data type `T`.
    pub fn of<T: Send + Sync + 'static>() -> Self {
        DataType {
            id: TypeId::of::<T>(),
            name: type_name::<T>(),
        }
    }

    /// The type's name, for error messages.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The shared data registered on a worker, by type.
#[derive(Clone, Default)]
pub struct DataMap {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl DataMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the value of type `T`.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.insert_arc(Arc::new(value));
    }

    /// Adds (or replaces) an already shared value of type `T`.
    pub fn insert_arc<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        self.map.insert(TypeId::of::<T>(), value);
    }

    /// The value of type `T`, if registered.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Data<T>> {
        let any = self.map.get(&TypeId::of::<T>())?.clone();
        any.downcast::<T>().ok().map(Data)
    }

    /// True if a value of this type is registered.
    pub fn contains(&self, ty: &DataType) -> bool {
        self.map.contains_key(&ty.id)
    }
}

impl fmt::Debug for DataMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataMap")
            .field("len", &self.map.len())
            .finish()
    }
}
