/* The compiled core on CPython 3.10 and 3.11: a chained C trace function (the
 * hot path), the twin of engine/frame_counters.py.
 *
 * Not a header of its own: _ccore.c includes it at one place, before 3.12
 * only, after the Core type, its table and its call paths, which it uses;
 * the GIL and reference rules at the top of _ccore.c hold here.
 *
 * Installed with PyEval_SetTrace on the span's thread; the trace function it
 * found there (coverage.py's C tracer, or CPython's trampoline for a Python
 * function such as a debugger's) is handed every event but opcode events,
 * which it never asked for, and is put back exactly at uninstall().
 *
 * sys.gettrace() answers with the Core while it is installed, so code that
 * saves and restores the tracer (doctest does) calls sys.settrace(core):
 * CPython's trampoline then calls the Core as a Python function, the
 * trampoline's way, with each event of a frame whose f_trace is the Core.
 * So counted frames get f_trace = the Core (unless the previous tracer is a
 * Python function: f_trace is then its local tracer), and a call through the
 * trampoline re-installs the C function at the next call event, as coverage's
 * CTracer does. */

/* PyEval_SetTrace, which reports no failure (an audit hook can refuse it):
 * -1 with ValueError set if the thread's tracer is not the one asked for.
 * `obj` is kept alive across the call, which releases the previous one
 * first: the Core may be both. */
static int
set_trace(Py_tracefunc func, PyObject *obj)
{
    PyThreadState *thread = PyThreadState_Get();
    Py_XINCREF(obj);
    PyEval_SetTrace(func, obj);
    int done = thread->c_tracefunc == func && thread->c_traceobj == obj;
    Py_XDECREF(obj);
    if (!done) {
        PyErr_SetString(PyExc_ValueError, "the thread's trace function could not be set");
        return -1;
    }
    return 0;
}

static Py_ssize_t
frame_lasti(PyFrameObject *frame)   /* in bytes, as frame.f_lasti */
{
#if PY_VERSION_HEX >= 0x030B0000
    return (Py_ssize_t)PyFrame_GetLasti(frame);
#else
    return (Py_ssize_t)frame->f_lasti * (Py_ssize_t)sizeof(_Py_CODEUNIT);
#endif
}

/* frame.<name> = value. On 3.11 the frame's fields are internal: through
 * the frame type's descriptors of the attributes (kept in the Core). */
static int
set_frame_attribute(Core *self, PyFrameObject *frame, int which, PyObject *value)
{
#if PY_VERSION_HEX < 0x030B0000
    (void)self;
    if (which == F_TRACE) {
        Py_XSETREF(frame->f_trace, value == Py_None ? NULL : Py_NewRef(value));
    }
    else if (which == F_TRACE_OPCODES) {
        frame->f_trace_opcodes = (char)(value == Py_True);
    }
    else {
        frame->f_trace_lines = (char)(value == Py_True);
    }
    return 0;
#else
    PyObject *descriptor = self->attributes[which];
    return Py_TYPE(descriptor)->tp_descr_set(descriptor, (PyObject *)frame, value);
#endif
}

/* Is the frame's f_trace the Core? */
static int
traced_by(Core *self, PyFrameObject *frame)
{
#if PY_VERSION_HEX < 0x030B0000
    return frame->f_trace == (PyObject *)self;
#else
    PyObject *descriptor = self->attributes[F_TRACE];
    PyObject *trace = Py_TYPE(descriptor)->tp_descr_get(  /* owned */
        descriptor, (PyObject *)frame, (PyObject *)Py_TYPE(frame));
    Py_XDECREF(trace);      /* only its address is compared */
    if (trace == NULL) {
        PyErr_Clear();
    }
    return trace == (PyObject *)self;
#endif
}

/* A call (or a generator's resumption): count the frame's opcodes if its
 * code is counted, asking the lifecycle about code seen for the first time. */
static int
on_call(Core *self, PyFrameObject *frame)
{
    PyObject *code = frame_code(frame);
    Entry *entry = find(self, code);
    if (entry == NULL) {
        PyObject *globals = PyObject_GetAttrString((PyObject *)frame, "f_globals"); /* owned */
        PyObject *answer = NULL;    /* owned */
        if (globals != NULL) {
            PyObject *module = PyDict_Check(globals)
                ? PyDict_GetItemString(globals, "__name__") : NULL;  /* borrowed */
            PyObject *call_args[2] = {code, module != NULL ? module : Py_None};
            answer = PyObject_Vectorcall(self->discover, call_args, 2, NULL);
            Py_DECREF(globals);
        }
        if (answer == NULL) {
            return keep_problem(self, "entering", code, 0);
        }
        Py_DECREF(answer);
        entry = find(self, code);   /* found anew: discover() may have grown the table */
    }
    if (entry == NULL || !entry->counted) {
        return 0;
    }
    if (!self->previous_is_python
        && set_frame_attribute(self, frame, F_TRACE, (PyObject *)self) < 0) {
        return -1;
    }
    if (set_frame_attribute(self, frame, F_TRACE_OPCODES, Py_True) < 0) {
        return -1;
    }
    if (self->previous_func == NULL  /* nobody else wants its lines */
        && set_frame_attribute(self, frame, F_TRACE_LINES, Py_False) < 0) {
        return -1;
    }
    /* Every frame's exit is a return event here (an exception's too): the
     * frame on top of `entered` is always the running counted one. */
    if (self->stacks) {
        push(self, code, frame);
    }
    return 0;
}

/* A generator's frame outlives its return (a yield): it gets back what
 * on_call changed, and a resumption is a call again. */
static int
on_generator_return(Core *self, PyFrameObject *frame)
{
    Entry *entry = find(self, frame_code(frame));
    if (entry == NULL || !entry->counted) {
        return 0;   /* not a frame on_call changed */
    }
    if (traced_by(self, frame) && set_frame_attribute(self, frame, F_TRACE, Py_None) < 0) {
        return -1;
    }
    if (set_frame_attribute(self, frame, F_TRACE_OPCODES, Py_False) < 0) {
        return -1;
    }
    if (self->previous_func == NULL) {
        return set_frame_attribute(self, frame, F_TRACE_LINES, Py_True);
    }
    return 0;
}

static int
Core_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    Core *self = (Core *)obj;
    if (what == PyTrace_OPCODE) {
        Entry *entry = self->last_entry;
        if (frame != self->last_frame) {
            entry = self->last_entry = find(self, frame_code(frame));
            self->last_frame = frame;
        }
        if (entry != NULL && entry->counted) {
            Py_ssize_t offset = frame_lasti(frame);
            if (offset >= 0 && offset < entry->size) {
                entry->counts[offset]++;
                if (self->stacks) {
                    charge(self, entry->code, 1);
                }
            }
            else {
                keep_message(self, "at", entry->code, offset);
            }
        }
        return 0;   /* opcode events are ours alone: the previous tracer never asked */
    }
    /* Every change of the running frame comes with one of the other events
     * (a call, a resumption, a return, an exception), and only they can add
     * to the table: the frame remembered above is forgotten at each. */
    self->last_frame = NULL;
    /* Popped before the previous tracer is called, which may fail. */
    if (what == PyTrace_RETURN && self->stacks && self->depth > 1
        && self->entered[self->depth - 1].frame == (const void *)frame) {
        self->depth--;
    }
    if (self->previous_func != NULL) {
        int forwarding = self->forwarding;
        self->forwarding = 1;
        int failed = self->previous_func(self->previous_obj, frame, what, arg) < 0;
        self->forwarding = forwarding;
        if (failed) {
            return -1;
        }
        /* The previous tracer may have installed itself (or another) as the
         * thread's tracer on a call: stay the thread's tracer, chained to the
         * one from before, as the Python core does. */
        if (what == PyTrace_CALL) {
            PyThreadState *thread = PyThreadState_Get();
            if ((thread->c_tracefunc != Core_trace || thread->c_traceobj != obj)
                && set_trace(Core_trace, obj) < 0
                && keep_problem(self, "re-installing at", frame_code(frame), 0) < 0) {
                return -1;
            }
        }
    }
    if (what == PyTrace_CALL) {
        return on_call(self, frame);
    }
    if (what == PyTrace_RETURN
        && ((PyCodeObject *)frame_code(frame))->co_flags
            & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)) {
        return on_generator_return(self, frame);
    }
    return 0;
}

/* The Core called the way CPython's trampoline calls a Python trace function
 * (see above): core(frame, event, arg). */
static PyObject *
Core_call(Core *self, PyObject *args, PyObject *kwargs)
{
    static const char *const events[] = {
        "call", "exception", "line", "return", "c_call", "c_exception", "c_return", "opcode",
    };
    PyObject *frame, *event, *arg;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "Core(): no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "Core", 3, 3, &frame, &event, &arg)) {
        return NULL;
    }
    if (!PyFrame_Check(frame) || !PyUnicode_Check(event)) {
        PyErr_SetString(PyExc_TypeError, "Core(): expected (frame, event, arg)");
        return NULL;
    }
    int what = 0;
    while (what < 8 && PyUnicode_CompareWithASCIIString(event, events[what]) != 0) {
        what++;
    }
    if (what == 8 || self->forwarding) {
        /* The previous tracer's own trampoline, handed a frame we marked:
         * it had no local tracer there. */
        Py_RETURN_NONE;
    }
    PyThreadState *thread = PyThreadState_Get();
    if (!self->installed || PyThread_get_thread_ident() != self->thread) {
        /* Not ours to count: put back with sys.settrace() after the span by
         * code that saved sys.gettrace() during it, or handed to another
         * thread (threading.settrace(sys.gettrace())). Behave as the tracer
         * from before the span, and hand the thread back to it at the next
         * call, as the Python core does. */
        if (self->previous_func != NULL
            && self->previous_func(self->previous_obj, (PyFrameObject *)frame, what, arg) < 0) {
            return NULL;
        }
        if (what == PyTrace_CALL && thread->c_traceobj == (PyObject *)self
            && set_trace(self->previous_func, self->previous_obj) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *code = frame_code((PyFrameObject *)frame);
    if (thread->c_traceobj != (PyObject *)self) {
        /* Another trace function is the thread's now (sys.settrace() during
         * the span): the frames it sees called, and the generators it sees
         * resumed, are not counted. */
        PyErr_SetString(PyExc_ValueError,
                        "the trace function was replaced during the span: "
                        "the code that ran under the other one was not counted");
        (void)keep_problem(self, "tracing", code, 0);
        Py_RETURN_NONE;
    }
    if (self->previous_is_python) {
        /* Frames traced by a Python function keep its local tracer, so their
         * events from here to the next call are lost to us: say so. */
        PyErr_SetString(PyExc_ValueError,
                        "sys.settrace(sys.gettrace()) under a Python tracer: the compiled "
                        "core cannot count the frames that tracer traces "
                        "(PYTEST_BYTECOUNT_CORE=python can)");
        (void)keep_problem(self, "tracing", code, 0);
    }
    if (Core_trace((PyObject *)self, (PyFrameObject *)frame, what, arg) < 0) {
        return NULL;
    }
    if (what == PyTrace_CALL && set_trace(Core_trace, (PyObject *)self) < 0
        && keep_problem(self, "re-installing at", code, 0) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Core_install(Core *self, PyObject *Py_UNUSED(ignored))
{
    PyThreadState *thread = PyThreadState_Get();
    if (self->installed || self->previous_obj != NULL || self->previous_func != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "install(): a Core is installed once");
        return NULL;
    }
    if (PyThread_get_thread_ident() != self->thread) {
        PyErr_SetString(PyExc_RuntimeError, "install(): not on the span's thread");
        return NULL;
    }
    Py_tracefunc previous_func = thread->c_tracefunc;
    PyObject *previous_obj = Py_XNewRef(thread->c_traceobj);    /* owned, kept below */
    /* sys.settrace() installs CPython's trampoline for a Python function:
     * going through it once is how we learn its address, to tell a Python
     * tracer from a C one. If it fails, the tracer is left as it was. */
    PyObject *settrace = PySys_GetObject("settrace");   /* borrowed */
    PyObject *done = settrace != NULL
        ? PyObject_CallOneArg(settrace, (PyObject *)self) : NULL;   /* owned */
    if (done == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "install(): sys.settrace is missing");
        }
        Py_XDECREF(previous_obj);
        return NULL;
    }
    Py_DECREF(done);
    self->trampoline = thread->c_tracefunc;
    self->previous_func = previous_func;
    self->previous_obj = previous_obj;
    self->previous_is_python = previous_func != NULL && previous_func == self->trampoline;
    self->installed = 1;
    if (set_trace(Core_trace, (PyObject *)self) < 0) {
        /* Refused (an audit hook): put the previous tracer back if allowed,
         * and report the first refusal. */
        PyObject *type, *value, *traceback;     /* all owned, restored below */
        PyErr_Fetch(&type, &value, &traceback);
        self->installed = 0;
        if (set_trace(previous_func, previous_obj) < 0) {
            PyErr_Clear();
        }
        PyErr_Restore(type, value, traceback);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Put back exactly the trace function that was there before; whether ours
 * was still installed until then (in C, or through the trampoline). The
 * previous tracer is kept until the Core dies: see Core_call. */
static PyObject *
Core_uninstall(Core *self, PyObject *Py_UNUSED(ignored))
{
    if (!self->installed) {
        Py_RETURN_FALSE;
    }
    PyThreadState *thread = PyThreadState_Get();
    int ours = thread->c_traceobj == (PyObject *)self
        && (thread->c_tracefunc == Core_trace || thread->c_tracefunc == self->trampoline);
    self->installed = 0;
    if (set_trace(self->previous_func, self->previous_obj) < 0) {
        return NULL;
    }
    return PyBool_FromLong(ours);
}
