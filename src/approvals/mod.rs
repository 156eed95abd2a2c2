//! The approval queue: what approvers see and decide, what agents wait for,
//! and the running of an approved action — exactly once.
//!
//! Rules held here: an approver sees and acts only on actions of workflows
//! they are listed for (others look like they do not exist); the identity
//! that requested an action never approves it; `approvals_required` counts
//! distinct approvers; an edit of the arguments is validated again, frozen
//! and hashed again, and resets earlier approvals (they approved another
//! request); an expired action is `expired`, never `denied`; only the
//! approval whose compare-and-swap moved the action to `executing` sends it;
//! an approval whose record cannot be written is withdrawn, and an approved
//! action that fails before it is sent goes back to the queue.
//!
//! `views`, `notify` and `slack` sit below the pipeline (its approve stage
//! uses them); `decide`, `wait`, `sweep`, `revoked` and `shown` (the approver's
//! view of every byte) sit above it.

pub(crate) mod decide;
pub(crate) mod notify;
pub(crate) mod revoked;
pub(crate) mod shown;
pub(crate) mod slack;
pub(crate) mod sweep;
pub(crate) mod trail;
pub(crate) mod views;
pub(crate) mod wait;
