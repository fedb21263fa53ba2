/* The compiled hot path of pytest-bytecount: the twin of engine/_pycore.py
 * on CPython 3.12 to 3.15 (sys.monitoring callbacks), member for member,
 * and of the Python trace functions in engine/settrace.py and
 * engine/frame_counters.py on 3.10 and 3.11 (a C trace function, like
 * coverage.py's CTracer). Both count exactly what their Python twins count.
 * Read the Python first: it says what each member does and why; this file
 * says how, in C.
 *
 * The GIL and threads. Every function here runs with the GIL held: CPython
 * holds it when it calls sys.monitoring callbacks, trace functions, methods
 * and type slots. Nothing here releases it, but `discover` and a chained
 * trace function are Python code, during which another thread may run; so
 * every table entry is looked up again after them, and no pointer into the
 * table is kept across them. A Core needs no lock. A Core serves one span.
 * With sys.monitoring it counts the events of the thread whose id it was
 * given (or of every thread when `all_threads`) and ignores the others',
 * but for telling `watch` (Python code, like `discover`) of the code other
 * threads start or resume, which makes a count unstable (unstable.py); it
 * returns DISABLE only for a location inside a block, which no thread's
 * event is ever counted at, so what another thread does cannot change a
 * count. As a trace function it is installed on the span's thread only
 * (PyEval_SetTrace is per thread); if code hands it to another thread
 * (threading.settrace(sys.gettrace())), it counts nothing there and hands
 * that thread to the tracer from before the span (see Core_call).
 *
 * State. All of it is in the Core object; the module has none besides its
 * types (a Core, and on 3.11+ a CallCounter, _ccore_c_calls.h, which says
 * what it owns). A Core owns one reference to each code object in its table, to
 * `discover`, to `disable` and to `problem` (on 3.10 and 3.11: to the
 * previous trace function's object and to three descriptors of the frame type);
 * with call paths, to the frame above the root path and to the reason the
 * paths were lost, while its nodes borrow their code objects from the table
 * (which keeps them for the Core's life) and it knows frames that entered a
 * node by address only, compared and never followed. Every other object is
 * borrowed for the length of a call, or owned by a local variable and
 * released before the function returns (each is marked where it is made).
 * Frames whose f_trace is the Core own that reference.
 *
 * Errors. As in _pycore.py: a LookupError or ValueError while counting is
 * kept in `problem` (the first one), never raised into the measured code;
 * any other exception raised while `discover` runs (a KeyboardInterrupt from
 * a signal handler, a timeout) propagates, as it would without us.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <stdint.h>

#if PY_VERSION_HEX < 0x030A0000
#error "pytest-bytecount needs CPython 3.10 or newer"
#endif
#ifdef Py_GIL_DISABLED
#error "the compiled core relies on the GIL: free-threaded builds use the Python core"
#endif

/* ------------------------------------------------- the table of code objects
 * Shared by both cores: an open-addressing table keyed by code object
 * address, owning one reference to each code object and its arrays. */

typedef struct {
    PyObject *code;         /* owned; NULL marks an empty slot */
    int counted;            /* 0: seen and excluded */
    Py_ssize_t size;        /* bytes of co_code: the arrays' length */
    uint32_t *lengths;      /* by block: block length at leaders, else 0; NULL by instruction */
    uint64_t *counts;       /* executions, or block entries at leaders */
    uint64_t *cuts;         /* by block: exceptions leaving a block at an offset */
    uint32_t *rest;         /* by block with call paths: what a cut at an offset
                               skips of its block (blocks.py, Blocks.rest); else NULL */
    uint64_t starts;
    Py_ssize_t start_offset;
} Entry;

/* Call paths (with `stacks`; see paths.py): a node of the call tree, and a
 * counted frame that entered one. A frame is known by its address, which is
 * only ever compared with the address of a frame that is running. */
typedef struct {
    PyObject *code;         /* borrowed: the table owns it; NULL for the root */
    Py_ssize_t parent;      /* -1 for the root */
    uint64_t own;           /* instructions run in its own frames */
} Node;

typedef struct {
    Py_ssize_t node;
    const void *frame;      /* the frame object (3.10, 3.11) or interpreter frame
                               (3.12+, running_frame()); NULL for the root, and
                               on 3.12+ for the root path's frames */
} Entered;

typedef struct {
    PyObject_HEAD
    Entry *table;           /* open addressing, keyed by code object address */
    Py_ssize_t capacity;    /* a power of two */
    Py_ssize_t used;
    unsigned long thread;
    int all_threads;
    PyObject *discover;     /* owned */
    PyObject *disable;      /* owned */
    PyObject *problem;      /* owned; NULL until something goes wrong */
    /* With stacks: the nodes (the root first), a hash of them by (parent,
     * code) holding index + 1, the frames that entered a node (the root's
     * first), whether an exception may have left some of them without an
     * event of ours, the frame above the root path, and why the paths were
     * dropped. */
    int stacks;
    Node *nodes;
    Py_ssize_t nodes_used, nodes_capacity;
    Py_ssize_t *children;
    Py_ssize_t children_capacity;
    Entered *entered;
    Py_ssize_t depth, entered_capacity;
    int suspect;
    PyObject *boundary;     /* owned, or NULL */
    int paths_lost;
    PyObject *lost;         /* owned, or NULL: why, where it could be said */
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *watch;        /* owned: told of other threads' starts while `watching` */
    int watching;
#endif
    /* 3.10 and 3.11 only: the trace function that was installed before ours,
     * to chain to and to restore; and the entry of the last code object an
     * opcode event was counted for. */
#if PY_VERSION_HEX < 0x030C0000
    Py_tracefunc previous_func;
    PyObject *previous_obj; /* owned */
    int previous_is_python; /* previous_func is CPython's trampoline */
    Py_tracefunc trampoline;
    int installed;
    int forwarding;         /* inside a call to previous_func */
    PyFrameObject *last_frame;  /* borrowed: the frame of the last opcode event */
    Entry *last_entry;          /* its code's entry, or NULL */
    PyObject *attributes[3]; /* owned: the frame type's descriptors of f_trace,
                                f_trace_opcodes and f_trace_lines */
#endif
} Core;

#if PY_VERSION_HEX < 0x030C0000
enum { F_TRACE, F_TRACE_OPCODES, F_TRACE_LINES };
#endif

/* ------------------------------------------------------------ the table */

static size_t
slot_of(const PyObject *code, Py_ssize_t capacity)
{
    uintptr_t x = (uintptr_t)code;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & (size_t)(capacity - 1);
}

static Entry *
find(Core *self, PyObject *code)
{
    size_t mask = (size_t)self->capacity - 1;
    size_t i = slot_of(code, self->capacity);
    while (self->table[i].code != NULL) {
        if (self->table[i].code == code) {
            return &self->table[i];
        }
        i = (i + 1) & mask;
    }
    return NULL;
}

static int
grow(Core *self)
{
    Py_ssize_t capacity = self->capacity * 2;
    Entry *table = PyMem_Calloc((size_t)capacity, sizeof(Entry));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < self->capacity; k++) {
        Entry *old = &self->table[k];
        if (old->code == NULL) {
            continue;
        }
        size_t i = slot_of(old->code, capacity);
        while (table[i].code != NULL) {
            i = (i + 1) & (size_t)(capacity - 1);
        }
        table[i] = *old;    /* moves the reference and the arrays */
    }
    PyMem_Free(self->table);
    self->table = table;
    self->capacity = capacity;
#if PY_VERSION_HEX < 0x030C0000
    self->last_frame = NULL;    /* the remembered entry moved */
#endif
    return 0;
}

/* A new, zeroed entry for `code` (which must not be in the table), holding
 * a new reference to it; NULL with an exception set on failure. */
static Entry *
insert(Core *self, PyObject *code)
{
    if ((self->used + 1) * 2 > self->capacity && grow(self) < 0) {
        return NULL;
    }
    size_t i = slot_of(code, self->capacity);
    while (self->table[i].code != NULL) {
        i = (i + 1) & (size_t)(self->capacity - 1);
    }
    Entry *entry = &self->table[i];
    memset(entry, 0, sizeof(Entry));
    entry->code = Py_NewRef(code);
    entry->start_offset = -1;
    self->used++;
    return entry;
}

#if PY_VERSION_HEX >= 0x030C0000
static int
thread_counted(Core *self)
{
    return self->all_threads || PyThread_get_thread_ident() == self->thread;
}
#endif

/* ------------------------------------------------------------- problems */

/* Keep the first problem, "<what> <qualname>+<offset>: <exception>" for the
 * current LookupError or ValueError, and clear it. Returns -1, leaving the
 * exception set, for any other exception: that one must propagate. */
static int
keep_problem(Core *self, const char *what, PyObject *code, Py_ssize_t offset)
{
    if (!PyErr_ExceptionMatches(PyExc_LookupError)
        && !PyErr_ExceptionMatches(PyExc_ValueError)) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exception = PyErr_GetRaisedException();     /* owned */
#else
    PyObject *type, *exception, *traceback;                /* all owned */
    PyErr_Fetch(&type, &exception, &traceback);
    PyErr_NormalizeException(&type, &exception, &traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
#endif
    if (self->problem == NULL) {
        PyObject *name = PyObject_GetAttrString(code, "co_qualname");  /* owned */
        if (name == NULL) {     /* 3.10: co_name only */
            PyErr_Clear();
            name = PyObject_GetAttrString(code, "co_name");
        }
        if (name == NULL) {
            PyErr_Clear();
            name = PyUnicode_FromString("?");
        }
        if (name != NULL) {
            self->problem = PyUnicode_FromFormat(
                "%s %U+%zd: %R", what, name, offset, exception);
            Py_DECREF(name);
        }
        if (self->problem == NULL) {
            PyErr_Clear();
            self->problem = PyUnicode_FromString(what);
        }
    }
    Py_XDECREF(exception);
    PyErr_Clear();
    return 0;
}

/* Keep a problem that is not an exception. */
static void
keep_message(Core *self, const char *what, PyObject *code, Py_ssize_t offset)
{
    PyErr_SetString(PyExc_LookupError, "not a counted code object or offset");
    (void)keep_problem(self, what, code, offset);
}

static PyObject *
frame_code(PyFrameObject *frame)    /* borrowed: the frame holds its code */
{
#if PY_VERSION_HEX >= 0x030B0000
    PyCodeObject *code = PyFrame_GetCode(frame);   /* owned, released at once */
    Py_DECREF(code);
    return (PyObject *)code;
#else
    return (PyObject *)frame->f_code;
#endif
}

/* ------------------------------------------------------------ call paths
 * The twin of paths.py and of the path members of _pycore.py: see there
 * what each step does and why. */

/* Drop the paths, keeping the first reason. Steals `message`, which may be
 * NULL (its making failed: that exception is cleared, never left set). */
static void
lose(Core *self, PyObject *message)
{
    if (message == NULL) {
        PyErr_Clear();
    }
    self->paths_lost = 1;
    if (self->lost == NULL) {
        self->lost = message;
    }
    else {
        Py_XDECREF(message);
    }
}

/* "the call path was lost at <event> of <qualname> (<file>:<line>)" */
static void
lose_at(Core *self, const char *event, PyObject *code)
{
    if (self->paths_lost) {
        return;
    }
    PyCodeObject *co = (PyCodeObject *)code;
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *name = co->co_qualname;   /* borrowed */
#else
    PyObject *name = co->co_name;       /* borrowed */
#endif
    lose(self, PyUnicode_FromFormat("the call path was lost at %s of %U (%U:%d)",
                                    event, name, co->co_filename, co->co_firstlineno));
}

static size_t
child_slot(Py_ssize_t parent, const PyObject *code, Py_ssize_t capacity)
{
    uintptr_t x = (uintptr_t)code ^ ((uintptr_t)parent * (uintptr_t)0x9E3779B97F4A7C15ull);
    x ^= x >> 29;
    x *= (uintptr_t)0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (size_t)x & (size_t)(capacity - 1);
}

static Py_ssize_t
find_child(Core *self, Py_ssize_t parent, PyObject *code)
{
    size_t mask = (size_t)self->children_capacity - 1;
    size_t i = child_slot(parent, code, self->children_capacity);
    while (self->children[i] != 0) {
        Node *node = &self->nodes[self->children[i] - 1];
        if (node->parent == parent && node->code == code) {
            return self->children[i] - 1;
        }
        i = (i + 1) & mask;
    }
    return -1;
}

/* A new node for `code` under `parent`: its index, or -1 with MemoryError. */
static Py_ssize_t
add_child(Core *self, Py_ssize_t parent, PyObject *code)
{
    if (self->nodes_used == self->nodes_capacity) {
        Py_ssize_t capacity = self->nodes_capacity * 2;
        Node *nodes = PyMem_Realloc(self->nodes, (size_t)capacity * sizeof(Node));
        if (nodes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->nodes = nodes;
        self->nodes_capacity = capacity;
    }
    if ((self->nodes_used + 1) * 2 > self->children_capacity) {
        Py_ssize_t capacity = self->children_capacity * 2;
        Py_ssize_t *children = PyMem_Calloc((size_t)capacity, sizeof(Py_ssize_t));
        if (children == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t k = 1; k < self->nodes_used; k++) {     /* the root is no child */
            size_t i = child_slot(self->nodes[k].parent, self->nodes[k].code, capacity);
            while (children[i] != 0) {
                i = (i + 1) & (size_t)(capacity - 1);
            }
            children[i] = k + 1;
        }
        PyMem_Free(self->children);
        self->children = children;
        self->children_capacity = capacity;
    }
    Py_ssize_t index = self->nodes_used++;
    self->nodes[index] = (Node){code, parent, 0};
    size_t i = child_slot(parent, code, self->children_capacity);
    while (self->children[i] != 0) {
        i = (i + 1) & (size_t)(self->children_capacity - 1);
    }
    self->children[i] = index + 1;
    return index;
}

/* A counted frame of `code` at `frame` enters a node under the current one.
 * Out of memory, the paths are lost: never an error raised into the
 * measured code. */
static void
push(Core *self, PyObject *code, const void *frame)
{
    if (self->paths_lost) {
        return;
    }
    Py_ssize_t parent = self->entered[self->depth - 1].node;
    Py_ssize_t node = find_child(self, parent, code);
    if (node < 0 && (node = add_child(self, parent, code)) < 0) {
        lose(self, PyUnicode_FromString("out of memory while following the call path"));
        return;
    }
    if (self->depth == self->entered_capacity) {
        Py_ssize_t capacity = self->entered_capacity * 2;
        Entered *entered = PyMem_Realloc(self->entered, (size_t)capacity * sizeof(Entered));
        if (entered == NULL) {
            lose(self, PyUnicode_FromString("out of memory while following the call path"));
            return;
        }
        self->entered = entered;
        self->entered_capacity = capacity;
    }
    self->entered[self->depth++] = (Entered){node, frame};
    }

/* `n` instructions of `code` (one, or a block at its leader) count for the
 * current node, which must be its. */
static inline void
charge(Core *self, PyObject *code, uint32_t n)
{
    Node *node = &self->nodes[self->entered[self->depth - 1].node];
    if (node->code == code) {
        node->own += n;
    }
    else {
        lose_at(self, "an instruction", code);
    }
}

#if PY_VERSION_HEX >= 0x030C0000
/* The running frame's identity on 3.12+: the address of its interpreter
 * frame, read from the thread state (a field of CPython's own headers, one
 * per version), where PyEval_GetFrame() would make it a frame object, a
 * third of what following a call's path cost (callgrind, fib). Only ever
 * compared with a running frame's. Root frames (open_paths) have none. */
static inline const void *
running_frame(void)
{
    PyThreadState *state = PyThreadState_GET();
#if PY_VERSION_HEX >= 0x030D0000
    return state->current_frame;
#else
    return state->cframe->current_frame;
#endif
}

/* After an exception, by the stack alone: the counted frames from `frame`
 * (borrowed, or NULL) up to the boundary are the ones still running, and
 * their entries are the lowest on `entered`, in order: forget the others.
 * The nearest one's code must be its entry's. 0 when the paths are lost. */
static int
resync_by_walk(Core *self, PyFrameObject *frame, const char *event)
{
    Py_ssize_t running = 0;
    PyObject *nearest = NULL;   /* borrowed: the table holds it */
    PyFrameObject *at = (PyFrameObject *)Py_XNewRef(frame);    /* owned */
    while (at != NULL && (PyObject *)at != self->boundary) {
        Entry *entry = find(self, frame_code(at));
        if (entry != NULL && entry->counted && running++ == 0) {
            nearest = entry->code;
        }
        PyFrameObject *back = PyFrame_GetBack(at);     /* owned */
        Py_DECREF(at);
        if (back == NULL && PyErr_Occurred()) {     /* making the frame object failed */
            lose(self, NULL);
            return 0;
        }
        at = back;
    }
    Py_XDECREF(at);
    if (running >= self->depth
        || (running > 0 && self->nodes[self->entered[running].node].code != nearest)) {
        lose(self, PyUnicode_FromFormat(
            "the call path was lost at %s after an exception", event));
        return 0;
    }
    self->depth = running + 1;
    return 1;
}

/* After an exception, at an event of the running frame, which is counted:
 * forget the entries above its own, frames the exception left without an
 * event of ours. Where its entry is not found before a root frame's (which
 * has no identity), the stack tells instead. 0 when the paths are lost. */
static int
resync(Core *self, const char *event)
{
    if (self->paths_lost) {
        return 0;
    }
    const void *running = running_frame();
    while (self->depth > 1 && self->entered[self->depth - 1].frame != NULL) {
        if (self->entered[self->depth - 1].frame == running) {
            return 1;
        }
        self->depth--;
    }
    PyFrameObject *frame = PyEval_GetFrame();   /* borrowed */
    if (frame == NULL) {    /* no frame object could be made */
        lose(self, NULL);
        return 0;
    }
    return resync_by_walk(self, frame, event);
}

/* A frame of counted `code` starts or resumes: the running frame. After an
 * exception, its caller's counted frames are found on the stack first. */
static void
enter(Core *self, PyObject *code)
{
    if (self->suspect) {
        self->suspect = 0;
        PyFrameObject *frame = PyEval_GetFrame();   /* borrowed */
        if (frame == NULL) {    /* no frame object could be made */
            lose(self, NULL);
            return;
        }
        PyFrameObject *back = PyFrame_GetBack(frame);   /* owned */
        if (back == NULL && PyErr_Occurred()) {
            lose(self, NULL);
            return;
        }
        int kept = !self->paths_lost && resync_by_walk(self, back, "the start");
        Py_XDECREF(back);
        if (!kept) {
            return;
        }
    }
    push(self, code, running_frame());
}

/* With call paths, on the span's thread: a frame of `code` resumes (or has
 * an exception thrown in); it enters a node if `code` is counted. Looked up
 * anew: discover() may have grown the table. */
static void
enter_counted(Core *self, PyObject *code)
{
    if (!self->stacks || PyThread_get_thread_ident() != self->thread) {
        return;
    }
    Entry *entry = find(self, code);
    if (entry != NULL && entry->counted) {
        enter(self, code);
    }
}
#endif

static PyObject *
Core_open_paths(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "open_paths(frames: list, above)");
        return NULL;
    }
    if (!self->stacks) {
        PyErr_SetString(PyExc_RuntimeError, "open_paths(): the Core records no call paths");
        return NULL;
    }
    Py_XSETREF(self->boundary, args[1] == Py_None ? NULL : Py_NewRef(args[1]));
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(args[0]); k++) {
        PyObject *frame = PyList_GET_ITEM(args[0], k);     /* borrowed */
        if (!PyFrame_Check(frame)) {
            PyErr_SetString(PyExc_TypeError, "open_paths(): frames must be frames");
            return NULL;
        }
        PyObject *code = frame_code((PyFrameObject *)frame);
        if (find(self, code) == NULL) {
            PyErr_SetString(PyExc_ValueError, "open_paths(): add() each frame's code first");
            return NULL;
        }
#if PY_VERSION_HEX >= 0x030C0000
        push(self, code, NULL);     /* root frames have no identity: see running_frame() */
#else
        push(self, code, frame);
#endif
    }
    Py_RETURN_NONE;
}

static PyObject *
Core_paths(Core *self, PyObject *Py_UNUSED(ignored))
{
    if (!self->stacks) {
        Py_RETURN_NONE;
    }
    PyObject *paths = PyList_New(self->nodes_used);    /* owned */
    if (paths == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < self->nodes_used; k++) {
        Node *node = &self->nodes[k];
        PyObject *path = Py_BuildValue("(OnK)", node->code != NULL ? node->code : Py_None,
                                       node->parent, (unsigned long long)node->own);
        if (path == NULL) {
            Py_DECREF(paths);
            return NULL;
        }
        PyList_SET_ITEM(paths, k, path);    /* stolen */
    }
    if (self->paths_lost && self->lost == NULL) {    /* its reason could not be made */
        self->lost = PyUnicode_FromString("the call path was lost");
        if (self->lost == NULL) {
            Py_DECREF(paths);
            return NULL;
        }
    }
    return Py_BuildValue("(NO)", paths, self->lost != NULL ? self->lost : Py_None);
}

#if PY_VERSION_HEX >= 0x030C0000

/* ------------------------------------------------------------ arguments */

static int
code_and_offset(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expected,
                const char *name, Py_ssize_t *offset)
{
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)",
                     name, expected, nargs);
        return -1;
    }
    if (!PyCode_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "%s(): a code object is needed", name);
        return -1;
    }
    *offset = PyLong_AsSsize_t(args[1]);
    if (*offset == -1 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
}
#endif

/* ------------------------------------------------ the hot path, by version
 * One mechanism is compiled in, as the interpreter has it: sys.monitoring
 * callbacks on 3.12+, a chained C trace function on 3.10 and 3.11. */
#if PY_VERSION_HEX >= 0x030C0000
#include "_ccore_monitoring.h"
#else
#include "_ccore_settrace.h"
#endif
#if PY_VERSION_HEX >= 0x030B0000
#include "_ccore_c_calls.h"
#endif

/* ------------------------------------------------ what the lifecycle calls */

/* A list of `size` ints in 0..UINT32_MAX as a new array (PyMem), or NULL
 * with an exception set. */
static uint32_t *
array_of(PyObject *list, Py_ssize_t size, const char *what)
{
    if (PyList_GET_SIZE(list) != size) {
        PyErr_Format(PyExc_ValueError, "add(): one %s per byte of co_code", what);
        return NULL;
    }
    uint32_t *array = PyMem_Calloc((size_t)size + 1, sizeof(uint32_t));
    if (array == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t k = 0; k < size; k++) {
        /* long long: long is 32 bits on some platforms */
        long long value = PyLong_AsLongLong(PyList_GET_ITEM(list, k));  /* borrowed item */
        if (value < 0 || value > (long long)UINT32_MAX) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_ValueError, "add(): a %s out of range", what);
            }
            PyMem_Free(array);
            return NULL;
        }
        array[k] = (uint32_t)value;
    }
    return array;
}

static PyObject *
Core_add(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "add() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *code = args[0], *lengths = args[1], *rests = args[2];
    if (!PyCode_Check(code)) {
        PyErr_SetString(PyExc_TypeError, "add(): a code object is needed");
        return NULL;
    }
    if ((lengths != Py_None && !PyList_Check(lengths))
        || (rests != Py_None && !PyList_Check(rests))) {
        PyErr_SetString(PyExc_TypeError, "add(): block lengths and rests must be lists or None");
        return NULL;
    }
    if ((lengths == Py_None) != (rests == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "add(): block lengths and block rests go together");
        return NULL;
    }
    if (find(self, code) != NULL) {
        /* Another thread (all_threads) discovered it meanwhile: keep its counts. */
        Py_RETURN_NONE;
    }
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *raw = PyCode_GetCode((PyCodeObject *)code);   /* owned */
#else
    PyObject *raw = PyObject_GetAttrString(code, "co_code"); /* owned */
#endif
    if (raw == NULL) {
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(raw);
    Py_DECREF(raw);
    Entry *entry = NULL;
    uint64_t *counts = PyMem_Calloc((size_t)size + 1, sizeof(uint64_t));
    uint64_t *cuts = NULL;
    uint32_t *table = NULL, *rest = NULL;
    if (counts == NULL) {
        return PyErr_NoMemory();
    }
    if (lengths != Py_None) {
        cuts = PyMem_Calloc((size_t)size + 1, sizeof(uint64_t));
        if (cuts == NULL) {
            PyErr_NoMemory();
            goto failed;
        }
        table = array_of(lengths, size, "block length");
        if (table == NULL) {
            goto failed;
        }
        if (self->stacks && (rest = array_of(rests, size, "block rest")) == NULL) {
            goto failed;
        }
    }
    entry = insert(self, code);
    if (entry == NULL) {
        goto failed;
    }
    entry->counted = 1;
    entry->size = size;
    entry->counts = counts;
    entry->cuts = cuts;
    entry->lengths = table;
    entry->rest = rest;
    Py_RETURN_NONE;

failed:
    PyMem_Free(counts);
    PyMem_Free(cuts);
    PyMem_Free(table);
    PyMem_Free(rest);
    return NULL;
}

static PyObject *
Core_ignore(Core *self, PyObject *code)
{
    if (find(self, code) == NULL && insert(self, code) == NULL) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
list_of(const uint64_t *values, Py_ssize_t size)     /* returns a new reference */
{
    PyObject *list = PyList_New(size);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < size; k++) {
        PyObject *value = PyLong_FromUnsignedLongLong(values[k]);   /* owned, then stolen */
        if (value == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, k, value);
    }
    return list;
}

static PyObject *
Core_results(Core *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *results = PyDict_New();   /* owned, returned */
    if (results == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < self->capacity; k++) {
        Entry *entry = &self->table[k];
        if (entry->code == NULL || !entry->counted) {
            continue;
        }
        PyObject *counts = list_of(entry->counts, entry->size);     /* owned */
        PyObject *cuts = entry->cuts != NULL
            ? list_of(entry->cuts, entry->size) : Py_NewRef(Py_None);  /* owned */
        PyObject *key = PyLong_FromVoidPtr(entry->code);           /* owned: id(code) */
        PyObject *value = NULL;                                     /* owned */
        if (counts != NULL && cuts != NULL && key != NULL) {
            value = Py_BuildValue("(OOOKn)", entry->code, counts, cuts,
                                  (unsigned long long)entry->starts, entry->start_offset);
        }
        int failed = value == NULL || PyDict_SetItem(results, key, value) < 0;
        Py_XDECREF(counts);
        Py_XDECREF(cuts);
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (failed) {
            Py_DECREF(results);
            return NULL;
        }
    }
    return results;
}

static PyObject *
Core_get_problem(Core *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->problem != NULL ? self->problem : Py_None);
}

#if PY_VERSION_HEX < 0x030C0000
static PyObject *
Core_get_previous_is_python(Core *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->previous_is_python);
}
#endif

/* ------------------------------------------------------------ the type */

static PyObject *
Core_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
#if PY_VERSION_HEX >= 0x030C0000
    static char *keywords[] = {"thread", "all_threads", "discover", "disable", "watch",
                               "stacks", NULL};
    PyObject *watch;
#else
    static char *keywords[] = {"thread", "all_threads", "discover", "disable", "stacks", NULL};
#endif
    PyObject *thread, *discover_, *disable;
    int all_threads, stacks = 0;
#if PY_VERSION_HEX >= 0x030C0000
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OpOOO|p:Core", keywords,
                                     &thread, &all_threads, &discover_, &disable, &watch,
                                     &stacks)) {
        return NULL;
    }
    if (!PyCallable_Check(watch)) {
        PyErr_SetString(PyExc_TypeError, "Core(): watch must be callable");
        return NULL;
    }
#else
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OpOO|p:Core", keywords,
                                     &thread, &all_threads, &discover_, &disable, &stacks)) {
        return NULL;
    }
#endif
    unsigned long ident = PyLong_AsUnsignedLong(thread);
    if (ident == (unsigned long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (!PyCallable_Check(discover_)) {
        PyErr_SetString(PyExc_TypeError, "Core(): discover must be callable");
        return NULL;
    }
    Core *self = (Core *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->capacity = 64;
    self->table = PyMem_Calloc((size_t)self->capacity, sizeof(Entry));
    if (self->table == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->thread = ident;
    self->all_threads = all_threads;
    if (stacks) {
        self->stacks = 1;
        self->nodes_capacity = 64;
        self->children_capacity = 128;
        self->entered_capacity = 64;
        self->nodes = PyMem_Calloc((size_t)self->nodes_capacity, sizeof(Node));
        self->children = PyMem_Calloc((size_t)self->children_capacity, sizeof(Py_ssize_t));
        self->entered = PyMem_Calloc((size_t)self->entered_capacity, sizeof(Entered));
        if (self->nodes == NULL || self->children == NULL || self->entered == NULL) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
        self->nodes[0] = (Node){NULL, -1, 0};     /* the root */
        self->nodes_used = 1;
        self->entered[0] = (Entered){0, NULL};
        self->depth = 1;
    }
    self->discover = Py_NewRef(discover_);
    self->disable = Py_NewRef(disable);
#if PY_VERSION_HEX >= 0x030C0000
    self->watch = Py_NewRef(watch);
    self->watching = 1;
#endif
#if PY_VERSION_HEX < 0x030C0000
    /* The descriptors themselves, called directly: PyObject_SetAttr would
     * intern the name and look it up in the type at every call, a tenth of
     * the cost of counting a call on 3.11. */
    static const char *const names[3] = {"f_trace", "f_trace_opcodes", "f_trace_lines"};
    for (int k = 0; k < 3; k++) {
        PyObject *descriptor = PyObject_GetAttrString((PyObject *)&PyFrame_Type, names[k]);
        if (descriptor == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        self->attributes[k] = descriptor;  /* the reference GetAttrString gave */
        if (Py_TYPE(descriptor)->tp_descr_get == NULL
            || Py_TYPE(descriptor)->tp_descr_set == NULL) {
            PyErr_Format(PyExc_TypeError, "frame.%s is not a data descriptor", names[k]);
            Py_DECREF(self);
            return NULL;
        }
    }
#endif
    return (PyObject *)self;
}

static int
Core_traverse(Core *self, visitproc visit, void *arg)
{
    Py_VISIT(self->discover);
    Py_VISIT(self->disable);
    Py_VISIT(self->problem);
    Py_VISIT(self->boundary);
#if PY_VERSION_HEX >= 0x030C0000
    Py_VISIT(self->watch);
#else
    Py_VISIT(self->previous_obj);
#endif
    for (Py_ssize_t k = 0; k < self->capacity && self->table != NULL; k++) {
        Py_VISIT(self->table[k].code);
    }
    return 0;
}

static int
Core_clear(Core *self)
{
    /* The lifecycle's `discover` closes over the lifecycle, which holds this
     * Core: a cycle; so may `watch`. Code objects cannot refer back to a Core. */
    Py_CLEAR(self->discover);
    Py_CLEAR(self->problem);
    Py_CLEAR(self->boundary);   /* a frame: its locals may hold anything */
#if PY_VERSION_HEX >= 0x030C0000
    Py_CLEAR(self->watch);
    self->watching = 0;
#else
    Py_CLEAR(self->previous_obj);
    self->previous_func = NULL;
#endif
    return 0;
}

static void
Core_dealloc(Core *self)
{
    PyObject_GC_UnTrack(self);
    Core_clear(self);
    Py_CLEAR(self->disable);
    Py_CLEAR(self->lost);
    PyMem_Free(self->nodes);
    PyMem_Free(self->children);
    PyMem_Free(self->entered);
#if PY_VERSION_HEX < 0x030C0000
    for (int k = 0; k < 3; k++) {
        Py_CLEAR(self->attributes[k]);
    }
#endif
    if (self->table != NULL) {
        for (Py_ssize_t k = 0; k < self->capacity; k++) {
            Entry *entry = &self->table[k];
            Py_CLEAR(entry->code);
            PyMem_Free(entry->lengths);
            PyMem_Free(entry->counts);
            PyMem_Free(entry->cuts);
            PyMem_Free(entry->rest);
        }
        PyMem_Free(self->table);
        self->table = NULL;
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Core_methods[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {"instruction", (PyCFunction)(void (*)(void))Core_instruction, METH_FASTCALL,
     "INSTRUCTION callback."},
    {"begin", (PyCFunction)Core_begin, METH_NOARGS, "begin(): events are on."},
    {"start", (PyCFunction)(void (*)(void))Core_start, METH_FASTCALL, "PY_START callback."},
    {"resume", (PyCFunction)(void (*)(void))Core_resume, METH_FASTCALL, "PY_RESUME callback."},
    {"raise_", (PyCFunction)(void (*)(void))Core_raise, METH_FASTCALL, "RAISE callback."},
    {"reraise", (PyCFunction)(void (*)(void))Core_reraise, METH_FASTCALL, "RERAISE callback."},
    {"leave", (PyCFunction)(void (*)(void))Core_leave, METH_FASTCALL,
     "PY_RETURN and PY_YIELD callback (call paths)."},
    {"throw", (PyCFunction)(void (*)(void))Core_throw, METH_FASTCALL,
     "PY_THROW callback (call paths)."},
#else
    {"install", (PyCFunction)Core_install, METH_NOARGS,
     "install(): become this thread's trace function, chained to the one before."},
    {"uninstall", (PyCFunction)Core_uninstall, METH_NOARGS,
     "uninstall(): restore the trace function from before; whether ours was still on."},
#endif
    {"add", (PyCFunction)(void (*)(void))Core_add, METH_FASTCALL,
     "add(code, block_lengths, block_rest): count code, by block if both are lists."},
    {"ignore", (PyCFunction)Core_ignore, METH_O, "ignore(code): seen, not counted."},
    {"open_paths", (PyCFunction)(void (*)(void))Core_open_paths, METH_FASTCALL,
     "open_paths(frames, above): the root path, outermost first, and the frame above it."},
    {"paths", (PyCFunction)Core_paths, METH_NOARGS,
     "paths(): ([(code, parent, own)], lost) with call paths, else None."},
    {"results", (PyCFunction)Core_results, METH_NOARGS,
     "results(): {id(code): (code, counts, cuts, starts, start_offset)}."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Core_getset[] = {
    {"problem", (getter)Core_get_problem, NULL, "The first problem met, or None.", NULL},
#if PY_VERSION_HEX < 0x030C0000
    {"previous_is_python", (getter)Core_get_previous_is_python, NULL,
     "Whether the tracer found at install() is a Python function.", NULL},
#endif
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pytest_bytecount.engine._ccore.Core",
    .tp_doc = "The counters and event callbacks of one span (see _pycore.py, settrace.py).",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Core_new,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_traverse = (traverseproc)Core_traverse,
    .tp_clear = (inquiry)Core_clear,
    .tp_methods = Core_methods,
    .tp_getset = Core_getset,
#if PY_VERSION_HEX < 0x030C0000
    .tp_call = (ternaryfunc)Core_call,
#endif
};

static struct PyModuleDef ccore_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pytest_bytecount.engine._ccore",
    .m_doc = "The compiled hot path of the counting engines.",
    .m_size = 0,
};

PyMODINIT_FUNC
PyInit__ccore(void)
{
    if (PyType_Ready(&CoreType) < 0) {
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030B0000
    if (PyType_Ready(&CallCounterType) < 0) {
        return NULL;
    }
#endif
    PyObject *module = PyModule_Create(&ccore_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030B0000
    if (PyModule_AddObjectRef(module, "CallCounter", (PyObject *)&CallCounterType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
    return module;
}
