/* The compiled hot path of pytest-bytecount's sys.monitoring engine
 * (CPython 3.12 to 3.15): the twin of engine/_pycore.py, member for member,
 * counting exactly the same. Read _pycore.py first: it says what each member
 * does and why; this file says how, in C.
 *
 * The GIL and threads. Every function here runs with the GIL held: CPython
 * holds it when it calls sys.monitoring callbacks, methods and type slots,
 * and nothing here releases it. So a Core needs no lock. A Core serves one
 * span: it counts the events of the thread whose id it was given (or of
 * every thread when `all_threads`) and ignores the others'. It returns
 * DISABLE only for a location inside a block, which no thread's event is
 * ever counted at, so what another thread does cannot change a count.
 *
 * State. All of it is in the Core object; the module has none besides its
 * type. A Core owns one reference to each code object in its table, to
 * `discover`, to `disable` and to `problem`; every other object is borrowed
 * for the length of a call, or owned by a local variable and released
 * before the function returns (each is marked where it is made).
 *
 * Errors. As in _pycore.py: a LookupError or ValueError while counting is
 * kept in `problem` (the first one), never raised into the measured code;
 * any other exception raised while `discover` runs (a KeyboardInterrupt from
 * a signal handler, a timeout) propagates, as it would without us.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#if PY_VERSION_HEX < 0x030C0000
#error "the compiled core counts with sys.monitoring: CPython 3.12 or newer"
#endif
#ifdef Py_GIL_DISABLED
#error "the compiled core relies on the GIL: free-threaded builds use the Python core"
#endif

typedef struct {
    PyObject *code;         /* owned; NULL marks an empty slot */
    int counted;            /* 0: seen and excluded */
    Py_ssize_t size;        /* bytes of co_code: the arrays' length */
    uint32_t *lengths;      /* by block: block length at leaders, else 0; NULL by instruction */
    uint64_t *counts;       /* executions, or block entries at leaders */
    uint64_t *cuts;         /* by block: exceptions leaving a block at an offset */
    uint64_t starts;
    Py_ssize_t start_offset;
} Entry;

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
} Core;

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

static int
thread_counted(Core *self)
{
    return self->all_threads || PyThread_get_thread_ident() == self->thread;
}

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
    PyObject *exception = PyErr_GetRaisedException();     /* owned */
    if (self->problem == NULL) {
        PyObject *name = PyObject_GetAttrString(code, "co_qualname");  /* owned */
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
    *offset = PyLong_AsSsize_t(args[1]);
    if (*offset == -1 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------ callbacks (hot path) */

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
    if (entry->lengths != NULL && entry->lengths[offset] == 0) {
        return Py_NewRef(self->disable);    /* inside a block: counted at its leader */
    }
    if (thread_counted(self)) {
        entry->counts[offset]++;
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

/* Ask the lifecycle about a code object seen for the first time. */
static int
discover(Core *self, PyObject *code, const char *what, Py_ssize_t offset)
{
    PyObject *module = current_module();    /* owned */
    PyObject *answer = NULL;                /* owned */
    if (module != NULL) {
        PyObject *call_args[2] = {code, module};
        answer = PyObject_Vectorcall(self->discover, call_args, 2, NULL);
        Py_DECREF(module);
    }
    if (answer == NULL) {
        return keep_problem(self, what, code, offset);
    }
    Py_DECREF(answer);
    return 0;
}

static PyObject *
Core_start(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 2, "start", &offset) < 0) {
        return NULL;
    }
    PyObject *code = args[0];
    Entry *entry = find(self, code);
    if (entry != NULL) {
        if (entry->counted && thread_counted(self)) {
            if (entry->starts == 0) {
                entry->start_offset = offset;
            }
            entry->starts++;
        }
        Py_RETURN_NONE;     /* never DISABLE a global event: it would be off for good */
    }
    if (!thread_counted(self)) {
        Py_RETURN_NONE;
    }
    if (discover(self, code, "entering", offset) < 0) {
        return NULL;
    }
    entry = find(self, code);   /* found anew: discover() may have grown the table */
    if (entry != NULL && entry->counted) {
        if (entry->starts == 0) {
            entry->start_offset = offset;
        }
        entry->starts++;
    }
    Py_RETURN_NONE;
}

static PyObject *
Core_resume(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 2, "resume", &offset) < 0) {
        return NULL;
    }
    if (find(self, args[0]) == NULL && thread_counted(self)
        && discover(self, args[0], "resuming", offset) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Core_raise(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 3, "raise_", &offset) < 0) {
        return NULL;
    }
    Entry *entry = find(self, args[0]);
    if (entry == NULL || entry->cuts == NULL || !thread_counted(self)) {
        Py_RETURN_NONE;
    }
    /* The reported offset is not always the raising instruction; the
     * frame's last instruction is (see _pycore.py). */
    PyFrameObject *frame = PyEval_GetFrame();   /* borrowed */
    Py_ssize_t last = frame != NULL ? (Py_ssize_t)PyFrame_GetLasti(frame) : -1;
    if (last < 0 || last >= entry->size) {
        keep_message(self, "raising in", args[0], offset);
        Py_RETURN_NONE;
    }
    entry->cuts[last]++;
    Py_RETURN_NONE;
}

static PyObject *
Core_reraise(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    if (code_and_offset(args, nargs, 3, "reraise", &offset) < 0) {
        return NULL;
    }
    Entry *entry = find(self, args[0]);
    if (entry == NULL || entry->cuts == NULL || !thread_counted(self)) {
        Py_RETURN_NONE;
    }
    if (offset < 0 || offset >= entry->size) {
        keep_message(self, "re-raising in", args[0], offset);
        Py_RETURN_NONE;
    }
    entry->cuts[offset]++;
    Py_RETURN_NONE;
}

/* ------------------------------------------------ what the lifecycle calls */

static PyObject *
Core_add(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "add() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *code = args[0], *lengths = args[1];
    if (!PyCode_Check(code)) {
        PyErr_SetString(PyExc_TypeError, "add(): a code object is needed");
        return NULL;
    }
    if (lengths != Py_None && !PyList_Check(lengths)) {
        PyErr_SetString(PyExc_TypeError, "add(): block lengths must be a list or None");
        return NULL;
    }
    if (find(self, code) != NULL) {
        /* Another thread (all_threads) discovered it meanwhile: keep its counts. */
        Py_RETURN_NONE;
    }
    PyObject *raw = PyCode_GetCode((PyCodeObject *)code);   /* owned */
    if (raw == NULL) {
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(raw);
    Py_DECREF(raw);
    if (lengths != Py_None && PyList_GET_SIZE(lengths) != size) {
        PyErr_SetString(PyExc_ValueError, "add(): one block length per byte of co_code");
        return NULL;
    }
    uint64_t *counts = PyMem_Calloc((size_t)size + 1, sizeof(uint64_t));
    uint64_t *cuts = NULL;
    uint32_t *table = NULL;
    if (counts == NULL) {
        return PyErr_NoMemory();
    }
    if (lengths != Py_None) {
        cuts = PyMem_Calloc((size_t)size + 1, sizeof(uint64_t));
        table = PyMem_Calloc((size_t)size + 1, sizeof(uint32_t));
        if (cuts == NULL || table == NULL) {
            PyMem_Free(counts);
            PyMem_Free(cuts);
            PyMem_Free(table);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t k = 0; k < size; k++) {
            /* long long: long is 32 bits on some platforms */
            long long length = PyLong_AsLongLong(PyList_GET_ITEM(lengths, k));  /* borrowed item */
            if (length < 0 || length > (long long)UINT32_MAX) {
                if (!PyErr_Occurred()) {
                    PyErr_SetString(PyExc_ValueError, "add(): a block length out of range");
                }
                PyMem_Free(counts);
                PyMem_Free(cuts);
                PyMem_Free(table);
                return NULL;
            }
            table[k] = (uint32_t)length;
        }
    }
    Entry *entry = insert(self, code);
    if (entry == NULL) {
        PyMem_Free(counts);
        PyMem_Free(cuts);
        PyMem_Free(table);
        return NULL;
    }
    entry->counted = 1;
    entry->size = size;
    entry->counts = counts;
    entry->cuts = cuts;
    entry->lengths = table;
    Py_RETURN_NONE;
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

/* ------------------------------------------------------------ the type */

static PyObject *
Core_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"thread", "all_threads", "discover", "disable", NULL};
    PyObject *thread, *discover_, *disable;
    int all_threads;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OpOO:Core", keywords,
                                     &thread, &all_threads, &discover_, &disable)) {
        return NULL;
    }
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
    self->discover = Py_NewRef(discover_);
    self->disable = Py_NewRef(disable);
    return (PyObject *)self;
}

static int
Core_traverse(Core *self, visitproc visit, void *arg)
{
    Py_VISIT(self->discover);
    Py_VISIT(self->disable);
    Py_VISIT(self->problem);
    for (Py_ssize_t k = 0; k < self->capacity && self->table != NULL; k++) {
        Py_VISIT(self->table[k].code);
    }
    return 0;
}

static int
Core_clear(Core *self)
{
    /* The lifecycle's `discover` closes over the lifecycle, which holds this
     * Core: the only cycle. Code objects cannot refer back to a Core. */
    Py_CLEAR(self->discover);
    Py_CLEAR(self->problem);
    return 0;
}

static void
Core_dealloc(Core *self)
{
    PyObject_GC_UnTrack(self);
    Core_clear(self);
    Py_CLEAR(self->disable);
    if (self->table != NULL) {
        for (Py_ssize_t k = 0; k < self->capacity; k++) {
            Entry *entry = &self->table[k];
            Py_CLEAR(entry->code);
            PyMem_Free(entry->lengths);
            PyMem_Free(entry->counts);
            PyMem_Free(entry->cuts);
        }
        PyMem_Free(self->table);
        self->table = NULL;
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Core_methods[] = {
    {"instruction", (PyCFunction)(void (*)(void))Core_instruction, METH_FASTCALL,
     "INSTRUCTION callback."},
    {"start", (PyCFunction)(void (*)(void))Core_start, METH_FASTCALL, "PY_START callback."},
    {"resume", (PyCFunction)(void (*)(void))Core_resume, METH_FASTCALL, "PY_RESUME callback."},
    {"raise_", (PyCFunction)(void (*)(void))Core_raise, METH_FASTCALL, "RAISE callback."},
    {"reraise", (PyCFunction)(void (*)(void))Core_reraise, METH_FASTCALL, "RERAISE callback."},
    {"add", (PyCFunction)(void (*)(void))Core_add, METH_FASTCALL,
     "add(code, block_lengths): count code, by block if block_lengths is a list."},
    {"ignore", (PyCFunction)Core_ignore, METH_O, "ignore(code): seen, not counted."},
    {"results", (PyCFunction)Core_results, METH_NOARGS,
     "results(): {id(code): (code, counts, cuts, starts, start_offset)}."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Core_getset[] = {
    {"problem", (getter)Core_get_problem, NULL, "The first problem met, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pytest_bytecount.engine._ccore.Core",
    .tp_doc = "The counters and sys.monitoring callbacks of one span (see _pycore.py).",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Core_new,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_traverse = (traverseproc)Core_traverse,
    .tp_clear = (inquiry)Core_clear,
    .tp_methods = Core_methods,
    .tp_getset = Core_getset,
};

static struct PyModuleDef ccore_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pytest_bytecount.engine._ccore",
    .m_doc = "The compiled hot path of the sys.monitoring engine.",
    .m_size = 0,
};

PyMODINIT_FUNC
PyInit__ccore(void)
{
    if (PyType_Ready(&CoreType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&ccore_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
