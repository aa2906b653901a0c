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
mod hc;
mod image;
mod plugin;
mod server;
pub mod status;

pub use hc::hcsys;

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
    macro_rules! same_hc {
        ($module:path => $name:ident ( $($arg:tt),* )) => {{
            use $module as m;
            let _both: [unsafe extern "C" fn($($arg),*) -> _; 2] = [hcsys::$name, m::$name];
        }};
    }
    same_hc!(hc => hc_init(_, _, _));
    same_hc!(hc => hc_cleanup());
    same_hc!(hc => hc_alloc(_));
    same_hc!(hc => hc_free(_));
    same_hc!(hc => hc_realloc(_, _));
    same_hc!(hc => hc_set_debug_function(_));
    same_hc!(hc => hc_set_debug_flags(_));
    same_hc!(hc => hcoa_get_platform_name(_, _));
    same_hc!(hc => hc_decode_hcerr(_));
    same_hc!(hc => hc_decode_hc_type(_));
    same_hc!(hc::session => hc_session_create_ez(_, _, _));
    same_hc!(hc::session => hc_session_free(_));
    same_hc!(hc::session => hc_session_get_status(_, _, _));
    same_hc!(hc::session => hc_session_get_schema(_, _));
    same_hc!(hc::session => hc_session_get_host(_, _, _));
    same_hc!(hc::session => hc_session_get_archive(_, _));
    same_hc!(hc::session => hc_session_get_platform_result(_, _, _));
    same_hc!(hc::session => hc_schema_get_type(_, _, _));
    same_hc!(hc::session => hc_schema_get_length(_, _, _));
    same_hc!(hc::session => hc_schema_get_count(_, _));
    same_hc!(hc::session => hc_schema_get_type_at_index(_, _, _, _));
    same_hc!(hc::nvr => hc_nvr_create(_, _, _));
    same_hc!(hc::nvr => hc_nvr_free(_));
    same_hc!(hc::nvr => hc_nvr_add_value(_, _, _));
    same_hc!(hc::nvr => hc_nvr_add_long(_, _, _));
    same_hc!(hc::nvr => hc_nvr_add_double(_, _, _));
    same_hc!(hc::nvr => hc_nvr_add_string(_, _, _));
    same_hc!(hc::nvr => hc_nvr_add_char(_, _, _));
    same_hc!(hc::nvr => hc_nvr_add_binary(_, _, _, _));
    same_hc!(hc::nvr => hc_nvr_add_date(_, _, _));
    same_hc!(hc::nvr => hc_nvr_add_time(_, _, _));
    same_hc!(hc::nvr => hc_nvr_add_timestamp(_, _, _));
    same_hc!(hc::nvr => hc_nvr_add_from_string(_, _, _));
    same_hc!(hc::nvr => hc_nvr_get_count(_, _));
    same_hc!(hc::nvr => hc_nvr_get_value_at_index(_, _, _, _));
    same_hc!(hc::nvr => hc_nvr_get_string(_, _, _));
    same_hc!(hc::nvr => hc_nvr_get_long(_, _, _));
    same_hc!(hc::nvr => hc_nvr_get_double(_, _, _));
    same_hc!(hc::nvr => hc_nvr_get_binary(_, _, _, _));
    same_hc!(hc::nvr => hc_nvr_get_date(_, _, _));
    same_hc!(hc::nvr => hc_nvr_get_time(_, _, _));
    same_hc!(hc::nvr => hc_nvr_get_timestamp(_, _, _));
    same_hc!(hc::nvr => hc_nvr_create_from_string_arrays(_, _, _, _, _));
    same_hc!(hc::nvr => hc_nvr_convert_to_string_arrays(_, _, _, _));
    same_hc!(hc::object => hc_store_both_ez(_, _, _, _, _));
    same_hc!(hc::object => hc_store_both_cell_ez(_, _, _, _, _, _));
    same_hc!(hc::object => hc_store_metadata_ez(_, _, _, _));
    same_hc!(hc::object => hc_retrieve_ez(_, _, _, _));
    same_hc!(hc::object => hc_range_retrieve_ez(_, _, _, _, _, _));
    same_hc!(hc::object => hc_retrieve_metadata_ez(_, _, _));
    same_hc!(hc::object => hc_delete_ez(_, _));
    same_hc!(hc::object => hc_check_indexed_ez(_, _, _));
    same_hc!(hc::query => hc_query_ez(_, _, _, _, _, _));
    same_hc!(hc::query => hc_query_holds_ez(_, _, _, _));
    same_hc!(hc::query => hc_pstmt_create(_, _, _));
    same_hc!(hc::query => hc_pstmt_free(_));
    same_hc!(hc::query => hc_pstmt_set_string(_, _, _));
    same_hc!(hc::query => hc_pstmt_set_char(_, _, _));
    same_hc!(hc::query => hc_pstmt_set_double(_, _, _));
    same_hc!(hc::query => hc_pstmt_set_long(_, _, _));
    same_hc!(hc::query => hc_pstmt_set_date(_, _, _));
    same_hc!(hc::query => hc_pstmt_set_time(_, _, _));
    same_hc!(hc::query => hc_pstmt_set_timestamp(_, _, _));
    same_hc!(hc::query => hc_pstmt_set_binary(_, _, _, _));
    same_hc!(hc::query => hc_pstmt_query_ez(_, _, _, _, _));
    same_hc!(hc::query => hc_qrs_next_ez(_, _, _, _));
    same_hc!(hc::query => hc_qrs_is_query_complete(_, _));
    same_hc!(hc::query => hc_qrs_get_query_integrity_time(_, _));
    same_hc!(hc::query => hc_qrs_free(_));
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
            if !path.is_file() {
                continue;
            }
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
