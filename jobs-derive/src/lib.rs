//! The `#[job]` attribute macro (stub, being written).
use proc_macro::TokenStream;

/// Turns an `async fn` into a job type.
#[proc_macro_attribute]
pub fn job(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
