/* The compiled core on CPython 3.12+: its sys.monitoring callbacks (the hot
 * path), the twin of the callbacks in engine/_pycore.py.
 *
 * Not a header of its own: _ccore.c includes it at one place, on 3.12+ only,
 * after the Core type, its table and its call paths, which it uses; the GIL
 * and reference rules at the top of _ccore.c hold here. */

static PyObject *
Core_instruction(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 2, "instruction", &offset) < 0) {
        return NULL;
    }
    Entry *entry = find(self, args[0]);
    if (entry == NULL || !entry->counted || offset < 0 || offset >= entry->size) {
        keep_message(self, "at", args[0], offset);
        Py_RETURN_NONE;
    }
    uint32_t length = 1;
    if (entry->lengths != NULL && (length = entry->lengths[offset]) == 0) {
        return Py_NewRef(self->disable);    /* inside a block: counted at its leader */
    }
    if (!self->stacks) {
        if (thread_counted(self)) {
            entry->counts[offset]++;
        }
        Py_RETURN_NONE;
    }
    int ours = PyThread_get_thread_ident() == self->thread;
    if (ours || self->all_threads) {
        entry->counts[offset]++;
    }
    if (ours) {     /* other threads' (all_threads) are in no node: the sums tell */
        if (self->suspect) {
            self->suspect = 0;
            if (!resync(self, "an instruction")) {
                Py_RETURN_NONE;
            }
        }
        charge(self, args[0], length);
    }
    Py_RETURN_NONE;
}

/* The module name of the frame that is starting or resuming. */
static PyObject *
current_module(void)    /* returns a new reference, Py_None where unknown */
{
    PyFrameObject *frame = PyEval_GetFrame();   /* borrowed */
    if (frame == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *globals = PyFrame_GetGlobals(frame);   /* owned */
    if (globals == NULL) {
        return NULL;
    }
    PyObject *name = NULL;
    if (PyDict_Check(globals)) {
        name = PyDict_GetItemString(globals, "__name__");  /* borrowed */
    }
    name = Py_NewRef(name != NULL ? name : Py_None);
    Py_DECREF(globals);
    return name;
}

/* callback(code, module of the current frame): what `discover` and `watch`
 * are called with. */
static PyObject *
call_with_module(PyObject *callback, PyObject *code)     /* returns a new reference */
{
    PyObject *module = current_module();    /* owned */
    if (module == NULL) {
        return NULL;
    }
    PyObject *call_args[2] = {code, module};
    PyObject *answer = PyObject_Vectorcall(callback, call_args, 2, NULL);
    Py_DECREF(module);
    return answer;
}

/* Ask the lifecycle about a code object seen for the first time. */
static int
discover(Core *self, PyObject *code, const char *what, Py_ssize_t offset)
{
    PyObject *answer = call_with_module(self->discover, code);   /* owned */
    if (answer == NULL) {
        return keep_problem(self, what, code, offset);
    }
    Py_DECREF(answer);
    return 0;
}

/* Another thread starts or resumes `code`: tell `watch` (the lifecycle's
 * thread watch), until it answers that it has seen enough. */
static int
watch_other_thread(Core *self, PyObject *code)
{
    if (!self->watching || self->watch == NULL) {
        return 0;
    }
    PyObject *answer = call_with_module(self->watch, code);   /* owned */
    int keep = answer != NULL ? PyObject_IsTrue(answer) : -1;
    Py_XDECREF(answer);
    if (keep < 0) {
        self->watching = 0;
        return keep_problem(self, "watching the thread running", code, -1);
    }
    self->watching = keep;
    return 0;
}

static int
is_other_thread(Core *self)
{
    return PyThread_get_thread_ident() != self->thread;
}

static PyObject *
Core_start(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 2, "start", &offset) < 0) {
        return NULL;
    }
    PyObject *code = args[0];
    if (is_other_thread(self)) {
        if (watch_other_thread(self, code) < 0) {
            return NULL;
        }
        if (!self->all_threads) {
            Py_RETURN_NONE;
        }
    }
    Entry *entry = find(self, code);
    if (entry == NULL) {
        if (discover(self, code, "entering", offset) < 0) {
            return NULL;
        }
        entry = find(self, code);   /* found anew: discover() may have grown the table */
    }
    if (entry != NULL && entry->counted) {
        if (entry->starts == 0) {
            entry->start_offset = offset;
        }
        entry->starts++;
        if (self->stacks && !is_other_thread(self)) {
            enter(self, code);
        }
    }
    Py_RETURN_NONE;     /* never DISABLE a global event: it would be off for good */
}

static PyObject *
Core_resume(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 2, "resume", &offset) < 0) {
        return NULL;
    }
    if (is_other_thread(self)) {
        if (watch_other_thread(self, args[0]) < 0) {
            return NULL;
        }
        if (!self->all_threads) {
            Py_RETURN_NONE;
        }
    }
    if (find(self, args[0]) == NULL && discover(self, args[0], "resuming", offset) < 0) {
        return NULL;
    }
    enter_counted(self, args[0]);
    Py_RETURN_NONE;
}

/* PY_RETURN and PY_YIELD (local: counted code only). */
static PyObject *
Core_leave(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 3, "leave", &offset) < 0) {
        return NULL;
    }
    if (!self->stacks || is_other_thread(self)) {
        Py_RETURN_NONE;
    }
    if (self->suspect) {
        self->suspect = 0;
        if (!resync(self, "an exit")) {
            Py_RETURN_NONE;
        }
    }
    if (self->depth > 1 && self->nodes[self->entered[self->depth - 1].node].code == args[0]) {
        self->depth--;
    }
    else {
        lose_at(self, "the exit", args[0]);
    }
    Py_RETURN_NONE;
}

/* PY_THROW: gen.throw() and gen.close() resume the frame, as PY_RESUME. */
static PyObject *
Core_throw(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 3, "throw", &offset) < 0) {
        return NULL;
    }
    enter_counted(self, args[0]);
    Py_RETURN_NONE;
}

/* With call paths: an exception leaves the block of `code` (counted by block,
 * its `entry`) after the instruction at `offset`, in the current frame. Its
 * node was charged the whole block at the leader: it gives back what did
 * not run. The exception may have left callees' frames first: resync. */
static void
take_back(Core *self, PyObject *code, Entry *entry, Py_ssize_t offset)
{
    if (entry->rest == NULL || is_other_thread(self)) {
        return;
    }
    uint32_t skipped = entry->rest[offset];     /* read now: no table pointer kept across resync */
    if (self->suspect) {
        self->suspect = 0;
        if (!resync(self, "an exception")) {
            return;
        }
    }
    if (self->paths_lost) {
        return;
    }
    Node *node = &self->nodes[self->entered[self->depth - 1].node];
    if (node->code == code && node->own >= skipped) {
        node->own -= skipped;
    }
    else {      /* not its node, or not charged the block: an event was missed */
        lose_at(self, "an exception", code);
    }
}

/* RAISE and RERAISE: the exception leaves the block of `code` after the
 * instruction at `offset`, or, with `at_last`, after the frame's last one
 * (for RAISE the reported offset is not always the raising instruction:
 * see _pycore.py). Then the frames it leaves are suspect. */
static void
cut(Core *self, PyObject *code, Py_ssize_t offset, int at_last, const char *what)
{
    Entry *entry = find(self, code);
    if (entry != NULL && entry->cuts != NULL && thread_counted(self)) {
        Py_ssize_t at = offset;
        if (at_last) {
            PyFrameObject *frame = PyEval_GetFrame();   /* borrowed */
            at = frame != NULL ? (Py_ssize_t)PyFrame_GetLasti(frame) : -1;
        }
        if (at < 0 || at >= entry->size) {
            keep_message(self, what, code, offset);
        }
        else {
            entry->cuts[at]++;
            take_back(self, code, entry, at);
        }
    }
    self->suspect = self->stacks;
}

static PyObject *
Core_raise(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 3, "raise_", &offset) < 0) {
        return NULL;
    }
    cut(self, args[0], offset, 1, "raising in");
    Py_RETURN_NONE;
}

static PyObject *
Core_reraise(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 3, "reraise", &offset) < 0) {
        return NULL;
    }
    cut(self, args[0], offset, 0, "re-raising in");
    Py_RETURN_NONE;
}

/* Events are on. The Python core decides here whether its INSTRUCTION
 * callback can skip the thread check; checking costs this one little. */
static PyObject *
Core_begin(Core *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_NONE;
}
