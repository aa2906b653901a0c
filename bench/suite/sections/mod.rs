//! The measured sections, in the order of issue 8.

pub mod archive;
pub mod dedup;
pub mod dup;
pub mod ingest;
pub mod memory;
pub mod pool;
pub mod restore;
pub mod scale;

use serde_json::json;

use crate::Ctx;
use crate::contenders::Srv;
use crate::datagen;
use crate::util::{human_bytes, timed};

/// Checks the generator, writes generation 1 of the stream to a file in
/// the work dir (every contender reads these, page-cached) and opens
/// the main server.
pub fn prepare(ctx: &mut Ctx) {
    let seed = ctx.cfg.seed;
    datagen::self_check(seed).unwrap_or_else(|e| panic!("generator self-check: {e}"));
    let len = ctx.cfg.stream_len;
    let (sha1, secs) = timed(|| datagen::to_file(&ctx.stream, seed, 1, len).expect("write generation 1"));
    ctx.stream_sha1 = sha1;
    let st = datagen::stats(seed, len);
    let pct = |n: u64| 100.0 * n as f64 / st.blocks as f64;
    ctx.note(format!(
        "stream: {} per generation, seed {seed}, 64 KiB blocks: {:.1}% text-like, {:.1}% repeats of earlier blocks, \
         generation 2 edits {:.1}% of blocks (unaligned overwrite/insert/delete of 1..512 bytes); \
         generation 1 pre-generated to a file in the work dir ({secs:.1} s), read by every contender from the page cache",
        human_bytes(len),
        pct(st.text_blocks),
        pct(st.repeated_blocks),
        pct(st.edited_blocks),
    ));
    ctx.extra.insert(
        "generator".into(),
        json!({
            "seed": seed,
            "bytes": len,
            "block": datagen::BLOCK,
            "blocks": st.blocks,
            "text_blocks": st.text_blocks,
            "repeated_blocks": st.repeated_blocks,
            "gen2_edited_blocks": st.edited_blocks,
            "gen1_sha1": ctx.stream_sha1,
        }),
    );
    ctx.srv = Some(Srv::open(&ctx.work.join("main-server")));
}
