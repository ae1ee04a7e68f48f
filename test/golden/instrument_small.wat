(module
 (type $0 (func (param i32) (result i32)))
 (type $1 (func))
 (type $2 (func (param i32)))
 (type $3 (func (param i32 i32 i32)))
 (type $4 (func (param i32 i32)))
 (type $5 (func (param i32 i32) (result i32)))
 (type $6 (func (param i32 i32 i32) (result i32)))
 (import "env" "memory" (memory $mimport$0 64 64 shared))
 (import "test" "touch" (func $fimport$0 (param i32) (result i32)))
 (import "test" "hook" (func $fimport$1))
 (import "dsm" "__fault" (func $fimport$2 (param i32 i32 i32)))
 (import "dsm" "__poll" (func $fimport$3))
 (export "load" (func $0))
 (export "store" (func $1))
 (export "fill" (func $2))
 (export "sum" (func $3))
 (export "calls" (func $4))
 (func $0 (param $0 i32) (result i32)
  (if
   (i32.and
    (i32.or
     (i32.load8_u offset=4096
      (i32.shr_u
       (i32.add
        (local.get $0)
        (i32.const 8)
       )
       (i32.const 12)
      )
     )
     (i32.load8_u offset=4096
      (i32.shr_u
       (i32.add
        (local.get $0)
        (i32.const 11)
       )
       (i32.const 12)
      )
     )
    )
    (i32.const 2)
   )
   (then
    (call $fimport$2
     (i32.shr_u
      (i32.add
       (local.get $0)
       (i32.const 8)
      )
      (i32.const 12)
     )
     (i32.shr_u
      (i32.add
       (local.get $0)
       (i32.const 11)
      )
      (i32.const 12)
     )
     (i32.const 0)
    )
   )
  )
  (i32.load offset=8
   (local.get $0)
  )
 )
 (func $1 (param $0 i32)
  (local $1 i32)
  (local.set $1
   (call $fimport$0
    (i32.const 1)
   )
  )
  (if
   (i32.or
    (i32.load8_u offset=4096
     (i32.shr_u
      (local.get $0)
      (i32.const 12)
     )
    )
    (i32.load8_u offset=4096
     (i32.shr_u
      (i32.add
       (local.get $0)
       (i32.const 3)
      )
      (i32.const 12)
     )
    )
   )
   (then
    (call $fimport$2
     (i32.shr_u
      (local.get $0)
      (i32.const 12)
     )
     (i32.shr_u
      (i32.add
       (local.get $0)
       (i32.const 3)
      )
      (i32.const 12)
     )
     (i32.const 1)
    )
   )
  )
  (i32.store
   (local.get $0)
   (local.get $1)
  )
 )
 (func $2 (param $0 i32) (param $1 i32)
  (drop
   (call $5
    (local.get $0)
    (local.get $1)
    (i32.const 1)
   )
  )
  (memory.fill
   (local.get $0)
   (i32.const 0)
   (local.get $1)
  )
 )
 (func $3 (param $0 i32) (param $1 i32) (result i32)
  (local $2 i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  (local $6 i32)
  (local $7 i32)
  (local.set $4
   (i32.const -4096)
  )
  (block $block2
   (loop $label2
    (block $block3
     (block $block
      (block $block1
       (loop $label
        (br_if $block
         (i32.atomic.load
          (i32.const 0)
         )
        )
        (local.set $3
         (i32.add
          (local.get $3)
          (block (result i32)
           (local.set $6
            (i32.add
             (local.get $0)
             (i32.shl
              (local.get $2)
              (i32.const 2)
             )
            )
           )
           (br_if $block1
            (i32.gt_u
             (i32.sub
              (local.get $6)
              (local.get $4)
             )
             (i32.const 4092)
            )
           )
           (i32.load
            (local.get $6)
           )
          )
         )
        )
        (br_if $label
         (i32.lt_u
          (local.tee $2
           (i32.add
            (local.get $2)
            (i32.const 1)
           )
          )
          (local.get $1)
         )
        )
       )
       (br $block2)
      )
      (loop $label1
       (if
        (i32.and
         (i32.or
          (i32.load8_u offset=4096
           (i32.shr_u
            (local.get $6)
            (i32.const 12)
           )
          )
          (i32.load8_u offset=4096
           (i32.shr_u
            (i32.add
             (local.get $6)
             (i32.const 3)
            )
            (i32.const 12)
           )
          )
         )
         (i32.const 2)
        )
        (then
         (call $fimport$2
          (i32.shr_u
           (local.get $6)
           (i32.const 12)
          )
          (i32.shr_u
           (i32.add
            (local.get $6)
            (i32.const 3)
           )
           (i32.const 12)
          )
          (i32.const 0)
         )
         (local.set $4
          (i32.const -4096)
         )
         (br_if $block3
          (i32.ge_u
           (local.tee $5
            (i32.add
             (local.get $5)
             (i32.const 1)
            )
           )
           (i32.const 2)
          )
         )
         (br $label1)
        )
       )
      )
      (local.set $4
       (select
        (local.get $6)
        (i32.and
         (local.get $6)
         (i32.const -4096)
        )
        (i32.ne
         (i32.shr_u
          (local.get $6)
          (i32.const 12)
         )
         (i32.shr_u
          (i32.add
           (local.get $6)
           (i32.const 3)
          )
          (i32.const 12)
         )
        )
       )
      )
      (br $label2)
     )
     (call $fimport$3)
     (local.set $4
      (i32.const -4096)
     )
     (br $label2)
    )
    (local.set $5
     (i32.const 0)
    )
    (local.set $3
     (i32.add
      (local.get $3)
      (block (result i32)
       (local.set $7
        (i32.add
         (local.get $0)
         (i32.shl
          (local.get $2)
          (i32.const 2)
         )
        )
       )
       (if
        (i32.and
         (i32.or
          (i32.load8_u offset=4096
           (i32.shr_u
            (local.get $7)
            (i32.const 12)
           )
          )
          (i32.load8_u offset=4096
           (i32.shr_u
            (i32.add
             (local.get $7)
             (i32.const 3)
            )
            (i32.const 12)
           )
          )
         )
         (i32.const 2)
        )
        (then
         (call $fimport$2
          (i32.shr_u
           (local.get $7)
           (i32.const 12)
          )
          (i32.shr_u
           (i32.add
            (local.get $7)
            (i32.const 3)
           )
           (i32.const 12)
          )
          (i32.const 0)
         )
         (local.set $4
          (i32.const -4096)
         )
        )
       )
       (i32.load
        (local.get $7)
       )
      )
     )
    )
    (br_if $label2
     (i32.lt_u
      (local.tee $2
       (i32.add
        (local.get $2)
        (i32.const 1)
       )
      )
      (local.get $1)
     )
    )
    (br $block2)
   )
   (unreachable)
  )
  (local.get $3)
 )
 (func $4 (param $0 i32)
  (local $1 i32)
  (loop $label
   (if
    (i32.atomic.load
     (i32.const 0)
    )
    (then
     (call $fimport$3)
    )
   )
   (drop
    (call $fimport$0
     (local.get $1)
    )
   )
   (br_if $label
    (i32.lt_u
     (local.tee $1
      (i32.add
       (local.get $1)
       (i32.const 1)
      )
     )
     (local.get $0)
    )
   )
  )
 )
 (func $5 (param $0 i32) (param $1 i32) (param $2 i32) (result i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  (local $6 i32)
  (if
   (i32.eqz
    (local.get $1)
   )
   (then
    (return
     (i32.const 0)
    )
   )
  )
  (local.set $4
   (i32.shr_u
    (local.get $0)
    (i32.const 12)
   )
  )
  (local.set $5
   (i32.shr_u
    (i32.add
     (local.get $0)
     (i32.sub
      (local.get $1)
      (i32.const 1)
     )
    )
    (i32.const 12)
   )
  )
  (local.set $3
   (local.get $4)
  )
  (local.set $6
   (select
    (i32.const 255)
    (i32.const 2)
    (local.get $2)
   )
  )
  (loop $label
   (if
    (i32.and
     (i32.load8_u offset=4096
      (local.get $3)
     )
     (local.get $6)
    )
    (then
     (call $fimport$2
      (local.get $4)
      (local.get $5)
      (local.get $2)
     )
     (return
      (i32.const 1)
     )
    )
   )
   (local.set $3
    (i32.add
     (local.get $3)
     (i32.const 1)
    )
   )
   (br_if $label
    (i32.le_u
     (local.get $3)
     (local.get $5)
    )
   )
  )
  (i32.const 0)
 )
)
