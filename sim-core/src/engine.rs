//! The main loop.

use crate::{EventQueue, Instant, SmallQueue, Span};

/// What a model tells the engine after handling an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keep running.
    Continue,
    /// The model's stop condition holds: end the run now.
    Stop,
}

/// A simulated system: the engine hands it events in time order.
pub trait Model {
    /// The model's event type. Keep it small and `Copy`-like: it is moved
    /// through the queue once per event.
    type Event;

    /// Handles one event at time `now`; may schedule more through `sched`.
    fn handle<Q: EventQueue<Self::Event>>(
        &mut self,
        now: Instant,
        event: Self::Event,
        sched: &mut Scheduler<Self::Event, Q>,
    ) -> Control;
}

/// The model's handle on the event queue during [`Model::handle`].
pub struct Scheduler<E, Q: EventQueue<E> = SmallQueue<E>> {
    queue: Q,
    now: Instant,
    _event: std::marker::PhantomData<E>,
}

/// What a model may do with the future, as an object: lets a model's code
/// take `&mut dyn Schedule<E>` instead of being generic over the queue.
pub trait Schedule<E> {
    /// The current simulated time.
    fn now(&self) -> Instant;
    /// Schedules `event` at `at` (not in the past).
    fn at(&mut self, at: Instant, event: E);
    /// Schedules `event` `delay` cycles from now.
    fn after(&mut self, delay: Span, event: E);
    /// Takes the place in the same-cycle order that an event scheduled now
    /// would have, to schedule an event there later
    /// ([`at_reserved`](Self::at_reserved)); see [`EventQueue::reserve`].
    fn reserve(&mut self) -> Reserved;
    /// Schedules `event` at `at` (not in the past) in the place `place`
    /// reserved.
    fn at_reserved(&mut self, at: Instant, place: Reserved, event: E);
}

/// A place in the order of same-cycle events, taken by
/// [`Schedule::reserve`]: events at one cycle run in the order of their
/// places. Ordered like the places, so a model can keep the latest of
/// several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Reserved(u64);

impl<E, Q: EventQueue<E>> Schedule<E> for Scheduler<E, Q> {
    fn now(&self) -> Instant {
        Scheduler::now(self)
    }
    fn at(&mut self, at: Instant, event: E) {
        Scheduler::at(self, at, event);
    }
    fn after(&mut self, delay: Span, event: E) {
        Scheduler::after(self, delay, event);
    }
    fn reserve(&mut self) -> Reserved {
        Reserved(self.queue.reserve())
    }
    fn at_reserved(&mut self, at: Instant, place: Reserved, event: E) {
        assert!(
            at >= self.now,
            "event scheduled in the past: {at} < {}",
            self.now
        );
        self.queue.push_reserved(at, place.0, event);
    }
}

impl<E, Q: EventQueue<E>> Scheduler<E, Q> {
    /// The current simulated time.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Schedules `event` at absolute time `at`.
    ///
    /// # Panics
    /// If `at` is before the current time: time never runs backwards.
    #[inline]
    pub fn at(&mut self, at: Instant, event: E) {
        assert!(
            at >= self.now,
            "event scheduled in the past: {at} < {}",
            self.now
        );
        self.queue.push(at, event);
    }

    /// Schedules `event` `delay` cycles from now.
    #[inline]
    pub fn after(&mut self, delay: Span, event: E) {
        self.queue.push(self.now + delay, event);
    }

    /// Number of pending events.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// Events handled.
    pub events: u64,
    /// Simulated time of the last event handled.
    pub end: Instant,
    /// Why the run ended.
    pub reason: EndReason,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The model returned [`Control::Stop`].
    ModelStopped,
    /// The next event lay beyond the cycle budget.
    CycleBudget,
    /// No event was pending.
    Drained,
    /// The next event lay at [`Instant::END`], where time saturates (the
    /// overflow rule of [`Instant`]): it was not handled.
    ClockEnd,
}

/// Drives a [`Model`] through its events in `(time, seq)` order.
pub struct Engine<E, Q: EventQueue<E> = SmallQueue<E>> {
    sched: Scheduler<E, Q>,
    events: u64,
}

impl<E> Engine<E, SmallQueue<E>> {
    /// An engine on a binary-heap queue.
    #[must_use]
    pub fn new() -> Self {
        Self::with_queue(SmallQueue::with_capacity(1024))
    }
}

impl<E> Default for Engine<E, SmallQueue<E>> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E, Q: EventQueue<E>> Engine<E, Q> {
    /// An engine on the given queue.
    pub fn with_queue(queue: Q) -> Self {
        Self {
            sched: Scheduler {
                queue,
                now: Instant::ZERO,
                _event: std::marker::PhantomData,
            },
            events: 0,
        }
    }

    /// The scheduler, to seed initial events before [`Engine::run`].
    pub fn scheduler(&mut self) -> &mut Scheduler<E, Q> {
        &mut self.sched
    }

    /// Runs until the model stops, no event is pending, or the next event
    /// lies after `budget` (if any).
    pub fn run<M: Model<Event = E>>(
        &mut self,
        model: &mut M,
        budget: Option<Instant>,
    ) -> RunOutcome {
        let reason = loop {
            let Some(t) = self.sched.queue.peek_time() else {
                break EndReason::Drained;
            };
            if budget.is_some_and(|b| t > b) {
                break EndReason::CycleBudget;
            }
            if t == Instant::END {
                break EndReason::ClockEnd;
            }
            let (t, ev) = self.sched.queue.pop().expect("peeked");
            self.sched.now = t;
            self.events += 1;
            if model.handle(t, ev, &mut self.sched) == Control::Stop {
                break EndReason::ModelStopped;
            }
        };
        RunOutcome {
            events: self.events,
            end: self.sched.now,
            reason,
        }
    }

    /// Events handled so far.
    #[must_use]
    pub fn events(&self) -> u64 {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Re-schedules its event `delay` later, forever.
    struct Repeat {
        delay: Span,
        handled: u64,
    }

    impl Model for Repeat {
        type Event = ();
        fn handle<Q: EventQueue<()>>(
            &mut self,
            _now: Instant,
            (): (),
            sched: &mut Scheduler<(), Q>,
        ) -> Control {
            self.handled += 1;
            sched.after(self.delay, ());
            Control::Continue
        }
    }

    #[test]
    fn a_clock_that_saturates_ends_the_run_instead_of_wrapping() {
        let mut engine = Engine::new();
        engine.scheduler().at(Instant(u64::MAX - 10), ());
        let mut m = Repeat {
            delay: Span(1 << 62),
            handled: 0,
        };
        let out = engine.run(&mut m, None);
        assert_eq!(out.reason, EndReason::ClockEnd);
        assert_eq!(m.handled, 1, "the event at the saturated time ran");
        assert_eq!(out.end, Instant(u64::MAX - 10));
    }
}
