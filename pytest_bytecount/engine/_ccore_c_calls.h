/* Calls into C on 3.11+ (included by _ccore.c): the compiled twin of the
 * hot path of CallsIntoC in c_calls.py, read that first.
 *
 * A CallCounter is the C_RETURN and C_RAISE callback (3.12+), or on 3.11 a
 * C profile function, installed on its thread, that counts `c_call` events.
 * It counts a call in an open-addressing table keyed by the addresses of the
 * calling code object, the offset and the callable; a builtin method bound
 * to an object (`seq.index` kept in a variable, and on 3.11 every method
 * called on an object, made anew for each call) is keyed by its object's
 * type and its method definition instead, which name it as well. Each entry
 * owns a reference to the code object, to the key and to the name, so that
 * no other object takes their addresses while they are counted. A callable
 * not yet in the table at that place goes to `first`, the lifecycle's
 * Python: it returns the name to count it under here from now on (this call
 * included; "" for a Python function, counted and never shown), or None
 * when it counted the call itself (a callable object made for one call, a
 * `functools.partial`, which the table would otherwise fill with) or the
 * call is not counted.
 *
 * The GIL and threads: as for the Core (_ccore.c). `first` is Python code,
 * during which another thread may run, so the table is looked up again after
 * it. Other threads' calls are ignored unless `all_threads`.
 *
 * State: all of it is in the CallCounter; it owns `first` and the table's
 * references. `first` closes over the lifecycle, which holds the counter: a
 * cycle, which tp_clear breaks.
 *
 * Errors: an exception from `first` (it reads C attributes only, so a
 * MemoryError or a KeyboardInterrupt) or a failed allocation propagates to
 * the code that made the call, as one from any sys.monitoring callback does. */

typedef struct {
    PyObject *code;         /* owned; NULL marks an empty slot */
    PyObject *key;          /* owned: the callable, or a bound method's object's type */
    const PyMethodDef *method;  /* a bound builtin method's definition, else NULL */
    PyObject *name;         /* owned: what `first` named it */
    Py_ssize_t offset;
    uint64_t calls;
} CallEntry;

typedef struct {
    PyObject_HEAD
    CallEntry *table;       /* open addressing, keyed by (code, offset, callable) */
    Py_ssize_t capacity;    /* a power of two */
    Py_ssize_t used;
    unsigned long thread;
    int all_threads;
    PyObject *first;        /* owned */
} CallCounter;

static size_t
call_slot(const PyObject *code, Py_ssize_t offset, const PyObject *key,
          const PyMethodDef *method, Py_ssize_t capacity)
{
    /* Each part multiplied by its own odd constant, then the high half
     * folded down: every part reaches the low bits a slot is taken from. */
    uint64_t x = (uint64_t)(uintptr_t)code * 0x9E3779B97F4A7C15ull;
    x ^= (uint64_t)(uintptr_t)key * 0xC2B2AE3D27D4EB4Full;
    x ^= (uint64_t)(uintptr_t)method * 0x27D4EB2F165667C5ull;
    x ^= (uint64_t)offset * 0x165667B19E3779F9ull;
    x ^= x >> 32;
    return (size_t)x & (size_t)(capacity - 1);
}

/* What a callable is counted by: itself (returned, borrowed); for a method
 * (3.12: a `with` statement's __enter__, made for each), its function; for a
 * builtin method bound to an object, that object's type, or to a type, that
 * type (returned, borrowed), and the method's definition (in `*method`):
 * which name it, whatever object it is bound to. */
static PyObject *
call_key(PyObject *callable, const PyMethodDef **method)
{
    *method = NULL;
    if (PyMethod_Check(callable)) {     /* named as its function is */
        return PyMethod_GET_FUNCTION(callable);
    }
    if (PyCFunction_Check(callable)) {
        PyObject *owner = PyCFunction_GET_SELF(callable);
        if (owner != NULL && !PyModule_Check(owner)) {
            /* Bound anew at each lookup: a method of an object, or a
             * classmethod of a type (`dict.fromkeys`, `int.from_bytes`). */
            *method = ((PyCFunctionObject *)callable)->m_ml;
            return PyType_Check(owner) ? owner : (PyObject *)Py_TYPE(owner);
        }
    }
    return callable;
}

static CallEntry *
call_find(CallCounter *self, PyObject *code, Py_ssize_t offset, PyObject *key,
          const PyMethodDef *method)
{
    size_t mask = (size_t)self->capacity - 1;
    size_t i = call_slot(code, offset, key, method, self->capacity);
    while (self->table[i].code != NULL) {
        CallEntry *entry = &self->table[i];
        if (entry->code == code && entry->key == key && entry->offset == offset
            && entry->method == method) {
            return entry;
        }
        i = (i + 1) & mask;
    }
    return NULL;
}

static int
call_grow(CallCounter *self)
{
    Py_ssize_t capacity = self->capacity * 2;
    CallEntry *table = PyMem_Calloc((size_t)capacity, sizeof(CallEntry));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < self->capacity; k++) {
        CallEntry *old = &self->table[k];
        if (old->code == NULL) {
            continue;
        }
        size_t i = call_slot(old->code, old->offset, old->key, old->method, capacity);
        while (table[i].code != NULL) {
            i = (i + 1) & (size_t)(capacity - 1);
        }
        table[i] = *old;    /* moves the references */
    }
    PyMem_Free(self->table);
    self->table = table;
    self->capacity = capacity;
    return 0;
}

/* A new entry with no calls, holding new references to `code`, `key` and
 * `name` (the key must not be in the table); NULL with an exception set on
 * failure. */
static CallEntry *
call_insert(CallCounter *self, PyObject *code, Py_ssize_t offset, PyObject *key,
            const PyMethodDef *method, PyObject *name)
{
    if ((self->used + 1) * 2 > self->capacity && call_grow(self) < 0) {
        return NULL;
    }
    size_t i = call_slot(code, offset, key, method, self->capacity);
    while (self->table[i].code != NULL) {
        i = (i + 1) & (size_t)(self->capacity - 1);
    }
    CallEntry *entry = &self->table[i];
    entry->code = Py_NewRef(code);
    entry->key = Py_NewRef(key);
    entry->method = method;
    entry->name = Py_NewRef(name);
    entry->offset = offset;
    entry->calls = 0;
    self->used++;
    return entry;
}

/* Count one call of `callable` at `offset` in `code` (`offset_object` is
 * the same offset as an int, or NULL to make one if `first` needs it).
 * 0, or -1 with an exception set. */
static int
count_call(CallCounter *self, PyObject *code, Py_ssize_t offset, PyObject *offset_object,
           PyObject *callable)
{
    if (!self->all_threads && PyThread_get_thread_ident() != self->thread) {
        return 0;
    }
    if (self->table == NULL || self->first == NULL) {
        return 0;   /* cleared by the collector: the span is gone */
    }
    const PyMethodDef *method;
    PyObject *key = call_key(callable, &method);    /* borrowed */
    CallEntry *entry = call_find(self, code, offset, key, method);
    if (entry != NULL) {
        entry->calls++;
        return 0;
    }
    /* sys.monitoring holds no reference to its callback while calling it:
     * `self`, `first` and the key are held here while Python code runs. */
    PyObject *at = offset_object != NULL ? Py_NewRef(offset_object)
                                         : PyLong_FromSsize_t(offset);  /* released below */
    if (at == NULL) {
        return -1;
    }
    PyObject *first = Py_NewRef(self->first);   /* released below */
    Py_INCREF(self);                            /* released below */
    Py_INCREF(key);                             /* released below */
    PyObject *first_args[3] = {code, at, callable};
    PyObject *name = PyObject_Vectorcall(first, first_args, 3, NULL);   /* released below */
    Py_DECREF(first);
    Py_DECREF(at);
    int result = name == NULL ? -1 : 0;
    if (name != NULL && PyUnicode_Check(name) && self->table != NULL) {
        entry = call_find(self, code, offset, key, method);  /* again: `first` ran Python */
        if (entry == NULL && (entry = call_insert(self, code, offset, key, method, name)) == NULL) {
            result = -1;
        }
        else {
            entry->calls++;
        }
    }
    Py_XDECREF(name);
    Py_DECREF(key);
    Py_DECREF(self);
    return result;
}

#if PY_VERSION_HEX >= 0x030C0000
/* C_RETURN and C_RAISE: returned(code, offset, callable, arg0). */
static PyObject *
CallCounter_returned(CallCounter *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "returned() takes 4 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_ssize_t offset = PyLong_AsSsize_t(args[1]);
    if (offset == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (count_call(self, args[0], offset, args[1], args[2]) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}
#else
/* 3.11: the profile function. `obj` is the CallCounter, borrowed: the
 * thread state holds a reference while it is installed. */
static int
CallCounter_profile(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    if (what != PyTrace_C_CALL) {
        return 0;
    }
    PyObject *code = frame_code(frame);     /* borrowed: the frame holds it */
    Py_ssize_t offset = (Py_ssize_t)PyFrame_GetLasti(frame);
    return count_call((CallCounter *)obj, code, offset, NULL, arg);
}

/* profile(): become this thread's profile function. */
static PyObject *
CallCounter_start_profiling(CallCounter *self, PyObject *Py_UNUSED(ignored))
{
    PyEval_SetProfile(CallCounter_profile, (PyObject *)self);
    Py_RETURN_NONE;
}

/* stop_profiling(): this thread has no profile function again. */
static PyObject *
CallCounter_stop_profiling(CallCounter *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyEval_SetProfile(NULL, NULL);
    Py_RETURN_NONE;
}
#endif

/* counts(): [(code, offset, name, calls)]. */
static PyObject *
CallCounter_counts(CallCounter *self, PyObject *Py_UNUSED(ignored))
{
    /* Copied out before any Python object is made: making one may run the
     * collector, and a finalizer counted code, which may grow the table. */
    Py_ssize_t used = self->used;
    CallEntry *copy = PyMem_Calloc((size_t)(used > 0 ? used : 1), sizeof(CallEntry));
    if (copy == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t k = 0; k < self->capacity && n < used; k++) {
        CallEntry *entry = &self->table[k];
        if (entry->code != NULL) {
            copy[n] = *entry;
            Py_INCREF(copy[n].code);    /* released below */
            Py_INCREF(copy[n].name);    /* released below */
            n++;
        }
    }
    PyObject *list = PyList_New(0);     /* new reference, returned */
    for (Py_ssize_t k = 0; k < n && list != NULL; k++) {
        /* new reference; "O" adds its own to the code and the name */
        PyObject *item = Py_BuildValue("(OnOK)", copy[k].code, copy[k].offset, copy[k].name,
                                       (unsigned long long)copy[k].calls);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_CLEAR(list);
        }
        Py_XDECREF(item);   /* the list holds it */
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_DECREF(copy[k].code);
        Py_DECREF(copy[k].name);
    }
    PyMem_Free(copy);
    return list;
}

static PyObject *
CallCounter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"thread", "all_threads", "first", NULL};
    unsigned long thread;
    int all_threads;
    PyObject *first;    /* borrowed from the arguments */
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "kpO", keywords, &thread, &all_threads,
                                     &first)) {
        return NULL;
    }
    CallCounter *self = (CallCounter *)type->tp_alloc(type, 0);     /* new reference */
    if (self == NULL) {
        return NULL;
    }
    self->capacity = 64;
    self->table = PyMem_Calloc((size_t)self->capacity, sizeof(CallEntry));
    if (self->table == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->thread = thread;
    self->all_threads = all_threads;
    self->first = Py_NewRef(first);
    return (PyObject *)self;
}

static int
CallCounter_traverse(CallCounter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->first);
    for (Py_ssize_t k = 0; k < self->capacity && self->table != NULL; k++) {
        Py_VISIT(self->table[k].code);
        Py_VISIT(self->table[k].key);
        Py_VISIT(self->table[k].name);
    }
    return 0;
}

static void
call_release_table(CallCounter *self)
{
    /* Detached first: releasing a reference may run Python code (a weakref
     * callback), which must find an empty counter, not a half-freed one. */
    CallEntry *table = self->table;
    Py_ssize_t capacity = self->capacity;
    self->table = NULL;
    self->capacity = self->used = 0;
    if (table == NULL) {
        return;
    }
    for (Py_ssize_t k = 0; k < capacity; k++) {
        Py_XDECREF(table[k].code);
        Py_XDECREF(table[k].key);
        Py_XDECREF(table[k].name);
    }
    PyMem_Free(table);
}

static int
CallCounter_clear(CallCounter *self)
{
    /* `first` closes over the lifecycle, which holds this counter; a kept
     * callable (a Python function) may reach anything. */
    Py_CLEAR(self->first);
    call_release_table(self);
    return 0;
}

static void
CallCounter_dealloc(CallCounter *self)
{
    PyObject_GC_UnTrack(self);
    CallCounter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef CallCounter_methods[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {"returned", (PyCFunction)(void (*)(void))CallCounter_returned, METH_FASTCALL,
     "C_RETURN and C_RAISE callback."},
#else
    {"start_profiling", (PyCFunction)CallCounter_start_profiling, METH_NOARGS,
     "start_profiling(): become this thread's profile function."},
    {"stop_profiling", (PyCFunction)CallCounter_stop_profiling, METH_NOARGS,
     "stop_profiling(): remove this thread's profile function."},
#endif
    {"counts", (PyCFunction)CallCounter_counts, METH_NOARGS,
     "counts(): [(code, offset, name, calls)]."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CallCounterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pytest_bytecount.engine._ccore.CallCounter",
    .tp_doc = "The calls into C of one span, by calling code, offset and callable (c_calls.py).",
    .tp_basicsize = sizeof(CallCounter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = CallCounter_new,
    .tp_dealloc = (destructor)CallCounter_dealloc,
    .tp_traverse = (traverseproc)CallCounter_traverse,
    .tp_clear = (inquiry)CallCounter_clear,
    .tp_methods = CallCounter_methods,
};
