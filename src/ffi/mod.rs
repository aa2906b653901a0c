//! The C boundary: thin `extern "C"` functions that check arguments,
//! call the engine, map errors to STS_E* codes and catch panics.
//!
//! One file per handle family (`plugin`, `server`, `image`); plumbing in
//! `boundary` (panic guard, init state), `status` (codes), `handles`
//! (registry) and `args` (pointer and string checks). No storage decision
//! is made here and no raw pointer travels below this module.

pub mod sys;

mod args;
mod boundary;
mod events;
mod handles;
mod image;
mod plugin;
mod server;
pub mod status;

/// Compile-time proof that every export has exactly the signature the
/// header declares: bindgen's declaration and our definition must coerce
/// to the same function-pointer type. Never called.
#[allow(dead_code, clippy::type_complexity)]
fn exports_match_header() {
    macro_rules! same {
        ($module:ident :: $name:ident ( $($arg:tt),* )) => {{
            let _both: [unsafe extern "C" fn($($arg),*) -> _; 2] = [sys::$name, $module::$name];
        }};
    }
    same!(plugin::stsp_init(_, _));
    same!(plugin::stsp_claim(_));
    same!(server::stsp_open_server(_, _, _));
    same!(server::stsp_get_server_prop(_, _));
    same!(server::stsp_get_server_prop_byname(_, _, _));
    same!(server::stsp_open_lsu_list(_, _));
    same!(server::stsp_list_lsu(_, _));
    same!(server::stsp_get_lsu_prop_byname(_, _));
    same!(image::stsp_create_image(_, _, _, _));
    same!(image::stsp_write_image(_, _, _, _, _, _));
    same!(image::stsp_open_image(_, _, _, _));
    same!(image::stsp_read_image(_, _, _, _, _));
    same!(image::stsp_delete_image(_, _, _));
    same!(image::stsp_open_image_list(_, _));
    same!(image::stsp_list_image(_, _));
    same!(image::stsp_get_image_prop(_, _));
    same!(image::stsp_get_image_prop_byname(_, _, _));
    same!(image::stsp_read_image_meta(_, _, _, _, _));
    same!(image::stsp_write_image_meta(_, _, _, _, _));
    same!(server::stsp_open_target_server(_, _, _, _));
    same!(image::stsp_copy_extent(_, _, _, _, _, _, _));
    same!(image::stsp_include_in_image(_, _, _, _, _, _, _));
    same!(image::stsp_copy_image(_, _, _, _, _));
    same!(events::stsp_open_evchannel(_, _));
    same!(events::stsp_get_event(_, _, _));
    same!(events::stsp_async_copy_image(_, _, _, _, _, _));
    same!(events::stsp_named_async_copy_image(_, _, _, _, _, _));
    same!(events::stsp_named_async_wait(_, _, _, _));
    same!(events::stsp_named_async_cancel(_, _));
    same!(events::stsp_label_lsu(_, _));
    macro_rules! same_safe {
        ($module:ident :: $name:ident ( $($arg:tt),* )) => {{
            let ours: extern "C" fn($($arg),*) -> _ = $module::$name;
            let _both: [unsafe extern "C" fn($($arg),*) -> _; 2] = [sys::$name, ours];
        }};
    }
    same_safe!(plugin::stsp_terminate());
    same_safe!(plugin::stsp_strerror(_));
    same_safe!(server::stsp_close_server(_));
    same_safe!(server::stsp_close_lsu_list(_));
    same_safe!(image::stsp_flush(_));
    same_safe!(image::stsp_close_image(_, _));
    same_safe!(image::stsp_close_image_list(_));
    same_safe!(events::stsp_delete_event(_, _));
    same_safe!(events::stsp_close_evchannel(_));
}

#[cfg(test)]
mod tests {
    /// Every export in src/ffi/ runs its body inside the panic boundary.
    #[test]
    fn every_export_passes_through_the_panic_guard() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
        let mut exports = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("extern \"C\" fn stsp_") {
                exports += 1;
                let body = &text[i..];
                let open = body
                    .find(") -> ")
                    .and_then(|p| body[p..].find('{').map(|b| p + b))
                    .unwrap();
                let first = body[open..].lines().nth(1).unwrap_or("");
                assert!(
                    first.contains("guard_init(")
                        || first.contains("guard(")
                        || first.contains("catch_unwind("),
                    "{}: export at byte {i} does not start with the panic guard: {first:?}",
                    path.display()
                );
            }
        }
        assert_eq!(exports, 39, "every stsp_* export is checked");
    }
}
