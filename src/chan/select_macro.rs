//! `select!`: the macro form of [`Select`](super::Select), shaped like
//! crossbeam-channel's.
//!
//! The macro parses its arms into a list (each arm takes a fresh hidden
//! identifier and index from a fixed supply of 32), builds one stack-allocated
//! `RecvArm`/`SendArm` per arm, runs the select protocol of `select.rs`
//! over them, and matches on the chosen index. No allocation. A send arm's
//! value expression is evaluated only if that arm is chosen (crossbeam's
//! rule; Go evaluates all of them on entry), so the same value may be moved
//! into several send arms.

/// Waits on several channel operations and runs the first that can proceed;
/// if several can, one is chosen uniformly at random (Go's `select`).
///
/// Arms, separated by commas (optional after a block):
/// * `recv(r) -> v => body`: `v` is `Result<T, RecvError>` (an error once
///   the channel is closed and empty).
/// * `send(s, value) -> res => body`: `res` is `Result<(), SendError<T>>`;
///   `value` is evaluated only if this arm is chosen.
/// * `default => body`: runs if no operation can proceed now.
/// * `default(timeout) => body`: runs if none can proceed within `timeout`.
///
/// Without a `default` arm the select waits for good; arms on
/// [`never()`](crate::chan::never) are never ready. At most 32 operation
/// arms.
///
/// ```
/// use goroutines::{chan, select};
/// use std::time::Duration;
///
/// goroutines::run(|| {
///     let (tx, rx) = chan::bounded::<u32>(0);
///     let (done_tx, done_rx) = chan::bounded::<()>(0);
///     goroutines::go(move || {
///         for v in rx.iter() {
///             assert!(v < 3);
///         }
///         done_tx.send(()).unwrap();
///     });
///     let mut sent = 0;
///     while sent < 3 {
///         select! {
///             send(tx, sent) -> res => {
///                 res.unwrap();
///                 sent += 1;
///             }
///             default(Duration::from_secs(10)) => panic!("receiver stuck"),
///         }
///     }
///     drop(tx);
///     select! {
///         recv(done_rx) -> v => assert_eq!(v, Ok(())),
///     }
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_internal!(
            @parse
            []
            [(_0 0) (_1 1) (_2 2) (_3 3) (_4 4) (_5 5) (_6 6) (_7 7)
             (_8 8) (_9 9) (_10 10) (_11 11) (_12 12) (_13 13) (_14 14) (_15 15)
             (_16 16) (_17 17) (_18 18) (_19 19) (_20 20) (_21 21) (_22 22) (_23 23)
             (_24 24) (_25 25) (_26 26) (_27 27) (_28 28) (_29 29) (_30 30) (_31 31)]
            []
            $($tokens)*
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_internal {
    // ---- parsing: @parse [arms] [unused ids] [default] tokens... ----
    (@parse [$($arms:tt)*] [$($ids:tt)*] [$($default:tt)*]) => {
        $crate::__select_internal!(@gen [$($arms)*] [$($default)*])
    };
    (@parse [$($arms:tt)*] [$($ids:tt)*] [$($default:tt)*] , $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)*] [$($ids)*] [$($default)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [] [$($default:tt)*] recv $($rest:tt)*) => {
        ::core::compile_error!("select! supports at most 32 operation arms")
    };
    (@parse [$($arms:tt)*] [] [$($default:tt)*] send $($rest:tt)*) => {
        ::core::compile_error!("select! supports at most 32 operation arms")
    };
    (@parse [$($arms:tt)*] [($id:ident $n:tt) $($ids:tt)*] [$($default:tt)*]
        recv($r:expr) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(
            @parse [$($arms)* (recv $id $n ($r) ($v) { $body })] [$($ids)*] [$($default)*] $($rest)*
        )
    };
    (@parse [$($arms:tt)*] [($id:ident $n:tt) $($ids:tt)*] [$($default:tt)*]
        recv($r:expr) -> $v:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(
            @parse [$($arms)* (recv $id $n ($r) ($v) { $body })] [$($ids)*] [$($default)*] $($($rest)*)?
        )
    };
    (@parse [$($arms:tt)*] [($id:ident $n:tt) $($ids:tt)*] [$($default:tt)*]
        send($s:expr, $m:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(
            @parse [$($arms)* (send $id $n ($s) ($m) ($res) { $body })] [$($ids)*] [$($default)*] $($rest)*
        )
    };
    (@parse [$($arms:tt)*] [($id:ident $n:tt) $($ids:tt)*] [$($default:tt)*]
        send($s:expr, $m:expr) -> $res:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(
            @parse [$($arms)* (send $id $n ($s) ($m) ($res) { $body })] [$($ids)*] [$($default)*] $($($rest)*)?
        )
    };
    (@parse [$($arms:tt)*] [$($ids:tt)*] [$($d:tt)+] default $($rest:tt)*) => {
        ::core::compile_error!("select! has more than one default arm")
    };
    (@parse [$($arms:tt)*] [$($ids:tt)*] [] default => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)*] [$($ids)*] [{ $body }] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($ids:tt)*] [] default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse [$($arms)*] [$($ids)*] [{ $body }] $($($rest)*)?)
    };
    (@parse [$($arms:tt)*] [$($ids:tt)*] [] default($t:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)*] [$($ids)*] [($t) { $body }] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($ids:tt)*] [] default($t:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse [$($arms)*] [$($ids)*] [($t) { $body }] $($($rest)*)?)
    };
    (@parse [$($arms:tt)*] [$($ids:tt)*] [$($default:tt)*] $($rest:tt)*) => {
        ::core::compile_error!(
            "select!: expected `recv(r) -> v => body`, `send(s, value) -> res => body`, \
             `default => body` or `default(timeout) => body`"
        )
    };

    // ---- generation ----
    (@gen [$(($kind:ident $id:ident $n:tt $($arg:tt)*))*] [$($default:tt)*]) => {{
        $( $crate::__select_internal!(@bind $kind $id $($arg)*); )*
        let __index = {
            let __arms: &mut [&mut dyn $crate::chan::__private::Arm] =
                &mut [$(&mut $id as &mut dyn $crate::chan::__private::Arm),*];
            $crate::__select_internal!(@run __arms [$($default)*])
        };
        match __index {
            $( ::core::option::Option::Some($n) => $crate::__select_internal!(@complete $kind $id $($arg)*), )*
            _ => $crate::__select_internal!(@default [$($default)*]),
        }
    }};

    (@bind recv $id:ident ($r:expr) $($rest:tt)*) => {
        let $id: &$crate::chan::Receiver<_> = &$r;
        let mut $id = $crate::chan::__private::RecvArm::new($id);
    };
    (@bind send $id:ident ($s:expr) $($rest:tt)*) => {
        let $id: &$crate::chan::Sender<_> = &$s;
        let mut $id = $crate::chan::__private::SendArm::new($id);
    };

    (@run $arms:ident []) => {
        $crate::chan::__private::run_arms($arms, $crate::chan::__private::Block::Forever)
    };
    (@run $arms:ident [$body:tt]) => {
        $crate::chan::__private::run_arms($arms, $crate::chan::__private::Block::No)
    };
    (@run $arms:ident [($t:expr) $body:tt]) => {
        $crate::chan::__private::run_arms($arms, $crate::chan::__private::block_for($t))
    };

    (@complete recv $id:ident ($r:expr) ($v:pat) $body:tt) => {{
        let __result = $id.take();
        let $v = __result;
        $body
    }};
    (@complete send $id:ident ($s:expr) ($m:expr) ($res:pat) $body:tt) => {{
        let __result = $id.send($m);
        let $res = __result;
        $body
    }};

    (@default []) => {
        ::core::unreachable!("a select! without default returned no arm")
    };
    (@default [$body:tt]) => {
        $body
    };
    (@default [($t:expr) $body:tt]) => {
        $body
    };
}
